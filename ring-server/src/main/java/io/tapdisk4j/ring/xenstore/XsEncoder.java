package io.tapdisk4j.ring.xenstore;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;

/** Writes an {@link XsMessage} as a little-endian {@code xsd_sockmsg} header followed by its payload. */
@ChannelHandler.Sharable
public final class XsEncoder extends MessageToByteEncoder<XsMessage> {

    public XsEncoder() {
        super(XsMessage.class, false);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, XsMessage msg, ByteBuf out) {
        out.ensureWritable(XsMessage.HEADER_SIZE + msg.payload().length);
        out.writeIntLE(msg.type());
        out.writeIntLE(msg.reqId());
        out.writeIntLE(msg.txId());
        out.writeIntLE(msg.payload().length);
        out.writeBytes(msg.payload());
    }
}
