package io.tapdisk4j.iscsi.session;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.tapdisk4j.iscsi.pdu.Pdu;

/** Hands every PDU of a logged-in connection to its {@link IscsiSession}, and tells it when the connection breaks. */
final class FullFeatureHandler extends ChannelInboundHandlerAdapter {

    private final IscsiSession session;

    FullFeatureHandler(IscsiSession session) {
        this.session = session;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Pdu pdu) {
            session.onPdu(ctx.channel(), pdu);
        } else {
            io.netty.util.ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        session.onReadComplete();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        session.onConnectionError(ctx.channel(), cause);
    }
}
