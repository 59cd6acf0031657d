package io.tapdisk4j.testsupport.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.util.List;

/** Whatever arrived in one read is one frame. */
final class ChunkFraming implements Framing {

    static final ChunkFraming INSTANCE = new ChunkFraming();

    @Override
    public String name() {
        return "chunks";
    }

    @Override
    public ConnectionFraming newConnection() {
        return direction -> new ByteToMessageDecoder() {
            @Override
            protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
                if (in.isReadable()) {
                    out.add(new Frame(in.readRetainedSlice(in.readableBytes()), "chunk", -1));
                }
            }
        };
    }
}
