package io.tapdisk4j.ring.xenstore;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;

import java.util.List;

/**
 * Frames the byte stream into {@link XsMessage}s: a 16-byte little-endian header (type, req_id, tx_id, len)
 * and len payload bytes. A length beyond XENSTORE_PAYLOAD_MAX cannot be resynchronised (the stream has no
 * frame markers), so it fails with {@link CorruptedFrameException} and the decoder discards everything after
 * it; the owner closes the connection, as xenstored does.
 */
public final class XsDecoder extends ByteToMessageDecoder {

    private boolean corrupted;

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (corrupted) {
            in.skipBytes(in.readableBytes());
            return;
        }
        while (in.readableBytes() >= XsMessage.HEADER_SIZE) {
            int base = in.readerIndex();
            long len = in.getUnsignedIntLE(base + 12);
            if (len > XsMessage.PAYLOAD_MAX) {
                corrupted = true;
                in.skipBytes(in.readableBytes());
                throw new CorruptedFrameException("xenstore message with a payload of " + len
                        + " bytes (the maximum is " + XsMessage.PAYLOAD_MAX + ")");
            }
            if (in.readableBytes() < XsMessage.HEADER_SIZE + len) {
                return;
            }
            int type = in.readIntLE();
            int reqId = in.readIntLE();
            int txId = in.readIntLE();
            in.skipBytes(4);
            byte[] payload = new byte[(int) len];
            in.readBytes(payload);
            out.add(new XsMessage(type, reqId, txId, payload));
        }
    }
}
