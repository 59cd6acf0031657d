package io.tapdisk4j.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;

/** Client to server: the client flags, option requests, and transmission requests (a WRITE's payload uncopied). */
@ChannelHandler.Sharable
public final class NbdClientEncoder extends ChannelOutboundHandlerAdapter {

    public static final NbdClientEncoder INSTANCE = new NbdClientEncoder();

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        switch (msg) {
            case NbdRequest r -> {
                ByteBuf h = ctx.alloc().directBuffer(NbdProtocol.REQUEST_HEADER);
                h.writeInt(NbdProtocol.REQUEST_MAGIC).writeShort(r.flags()).writeShort(r.type())
                        .writeLong(r.cookie()).writeLong(r.offset()).writeInt((int) r.length());
                if (r.data() == null) {
                    ctx.write(h, promise);
                } else {
                    ctx.write(h, ctx.voidPromise());
                    ctx.write(r.data(), promise);
                }
            }
            case NbdOptionRequest o -> {
                ByteBuf b = ctx.alloc().directBuffer(16 + o.data().length);
                b.writeLong(NbdProtocol.IHAVEOPT).writeInt(o.option()).writeInt(o.data().length).writeBytes(o.data());
                ctx.write(b, promise);
            }
            case NbdClientFlags f -> ctx.write(ctx.alloc().directBuffer(4).writeInt(f.flags()), promise);
            default -> ctx.write(msg, promise);
        }
    }
}
