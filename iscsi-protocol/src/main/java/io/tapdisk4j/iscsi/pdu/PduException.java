package io.tapdisk4j.iscsi.pdu;

import io.netty.handler.codec.DecoderException;

/** A PDU that violates RFC 7143 framing (bad digest, oversized segment, unknown opcode): the connection is dropped. */
public final class PduException extends DecoderException {

    public PduException(String message) {
        super(message);
    }
}
