package io.tapdisk4j.nfs.rpc;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;

import java.util.List;

/**
 * Sends each outbound ByteBuf as one last-fragment RPC record: a 4-byte header, then the message itself
 * unchanged (no copy of WRITE payloads).
 */
@ChannelHandler.Sharable
public final class RecordMarkingEncoder extends MessageToMessageEncoder<ByteBuf> {

    public static final RecordMarkingEncoder INSTANCE = new RecordMarkingEncoder();

    public RecordMarkingEncoder() {
        super(ByteBuf.class);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, ByteBuf msg, List<Object> out) {
        ByteBuf header = ctx.alloc().buffer(4, 4);
        header.writeInt(0x80000000 | msg.readableBytes());
        out.add(header);
        out.add(msg.retain());
    }
}
