package io.tapdisk4j.testsupport.proxy;

import io.netty.handler.codec.ByteToMessageDecoder;

/**
 * How the proxy cuts a byte stream into {@link Frame}s. One {@link ConnectionFraming} per proxied
 * connection, because a reply's length can depend on the request it answers (an NBD simple read reply).
 */
public interface Framing {

    String name();

    ConnectionFraming newConnection();

    /** The two decoders of one proxied connection; they may share state. */
    interface ConnectionFraming {
        ByteToMessageDecoder decoder(Direction direction);
    }

    /** Byte chunks as they arrive (enough for cut, backpressure and byte-level garbling). */
    static Framing chunks() {
        return ChunkFraming.INSTANCE;
    }

    /** ONC RPC over TCP: one frame per record-marking fragment (RFC 5531 section 11). */
    static Framing rpcRecords() {
        return RpcRecordFraming.INSTANCE;
    }

    /** iSCSI PDUs (RFC 7143: 48-byte BHS, AHS, padded data segment), without digests. */
    static Framing iscsiPdus() {
        return IscsiPduFraming.INSTANCE;
    }

    /** NBD newstyle handshake messages, requests and simple/structured/extended replies. */
    static Framing nbd() {
        return NbdFraming.INSTANCE;
    }
}
