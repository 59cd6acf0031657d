package io.tapdisk4j.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;

/**
 * Server to client: greeting, option replies, the EXPORT_NAME answer, simple replies and structured reply
 * chunks. A reply's data buffer is written as is after a small header buffer (no copy; epoll gathers both
 * into one writev); a READ answered from a file region is its header buffer followed by the region (which
 * epoll sends with sendfile).
 */
@ChannelHandler.Sharable
public final class NbdServerEncoder extends ChannelOutboundHandlerAdapter {

    public static final NbdServerEncoder INSTANCE = new NbdServerEncoder();

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        switch (msg) {
            case NbdChunk c -> writeChunk(ctx, c, promise);
            case NbdSimpleReply r -> writeSimple(ctx, r, promise);
            case NbdRegionReply r -> writeRegion(ctx, r, promise);
            case NbdOptionReply r -> {
                ByteBuf b = ctx.alloc().directBuffer(20 + r.data().length);
                b.writeLong(NbdProtocol.OPTION_REPLY_MAGIC).writeInt(r.option()).writeInt(r.type())
                        .writeInt(r.data().length).writeBytes(r.data());
                ctx.write(b, promise);
            }
            case NbdServerGreeting g -> {
                ByteBuf b = ctx.alloc().directBuffer(18);
                b.writeLong(NbdProtocol.NBDMAGIC).writeLong(NbdProtocol.IHAVEOPT).writeShort(g.handshakeFlags());
                ctx.write(b, promise);
            }
            case NbdExportNameReply r -> {
                ByteBuf b = ctx.alloc().directBuffer(134);
                b.writeLong(r.size()).writeShort(r.transmissionFlags());
                if (r.zeroes()) {
                    b.writeZero(124);
                }
                ctx.write(b, promise);
            }
            default -> ctx.write(msg, promise);
        }
    }

    private static void writeSimple(ChannelHandlerContext ctx, NbdSimpleReply r, ChannelPromise promise) {
        ByteBuf h = ctx.alloc().directBuffer(NbdProtocol.SIMPLE_REPLY_HEADER);
        h.writeInt(NbdProtocol.SIMPLE_REPLY_MAGIC).writeInt(r.error()).writeLong(r.cookie());
        if (r.data() == null) {
            ctx.write(h, promise);
        } else {
            ctx.write(h, ctx.voidPromise());
            ctx.write(r.data(), promise);
        }
    }

    private static void writeRegion(ChannelHandlerContext ctx, NbdRegionReply r, ChannelPromise promise) {
        ByteBuf h;
        if (r.structured()) {
            h = ctx.alloc().directBuffer(NbdProtocol.STRUCTURED_REPLY_HEADER + 8);
            h.writeInt(NbdProtocol.STRUCTURED_REPLY_MAGIC).writeShort(NbdProtocol.REPLY_FLAG_DONE)
                    .writeShort(NbdProtocol.REPLY_TYPE_OFFSET_DATA).writeLong(r.cookie()).writeInt(8 + r.length())
                    .writeLong(r.offset());
        } else {
            h = ctx.alloc().directBuffer(NbdProtocol.SIMPLE_REPLY_HEADER);
            h.writeInt(NbdProtocol.SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(r.cookie());
        }
        ctx.write(h, ctx.voidPromise());
        ctx.write(r.region(), promise);
    }

    private static void writeChunk(ChannelHandlerContext ctx, NbdChunk c, ChannelPromise promise) {
        ByteBuf head = c.head();
        ByteBuf h = ctx.alloc().directBuffer(NbdProtocol.STRUCTURED_REPLY_HEADER + head.readableBytes());
        h.writeInt(NbdProtocol.STRUCTURED_REPLY_MAGIC).writeShort(c.flags()).writeShort(c.type())
                .writeLong(c.cookie()).writeInt(c.payloadLength()).writeBytes(head);
        head.release();
        if (c.data() == null) {
            ctx.write(h, promise);
        } else {
            ctx.write(h, ctx.voidPromise());
            ctx.write(c.data(), promise);
        }
    }
}
