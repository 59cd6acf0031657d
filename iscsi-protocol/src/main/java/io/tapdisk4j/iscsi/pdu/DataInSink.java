package io.tapdisk4j.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/**
 * Where Data-In belongs, so that the decoder can write a large data segment straight into it (and have
 * the socket read into it) instead of gathering the segment in receive buffers and copying it later.
 * Asked on the connection's event loop.
 */
public interface DataInSink {

    /**
     * The buffer that receives {@code length} bytes of data for task {@code itt} at index
     * {@code bufferOffset}, or null to get the segment as an ordinary PDU (unknown task, bad range). The
     * decoder takes its own reference for as long as it writes; the sink keeps the buffer's identity to
     * recognise the result ({@link Pdu#placedInto()}).
     */
    ByteBuf destination(int itt, int bufferOffset, int length);
}
