package io.tapdisk4j.testsupport.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.util.List;

/**
 * RPC record marking: a 4-byte mark (top bit: last fragment, low 31 bits: length) before each fragment.
 * The first fragment of a record carries the xid and the message type (0 call, 1 reply), used as the
 * frame's tag and kind.
 */
final class RpcRecordFraming implements Framing {

    static final RpcRecordFraming INSTANCE = new RpcRecordFraming();

    @Override
    public String name() {
        return "rpc-records";
    }

    @Override
    public ConnectionFraming newConnection() {
        return direction -> new Decoder();
    }

    static final class Decoder extends ByteToMessageDecoder {
        private boolean startOfRecord = true;

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            while (in.readableBytes() >= 4) {
                long mark = in.getUnsignedInt(in.readerIndex());
                int length = (int) (mark & 0x7fffffffL);
                boolean last = (mark & 0x80000000L) != 0;
                if (in.readableBytes() < 4 + length) {
                    return;
                }
                String kind = "rpc-fragment";
                long tag = -1;
                if (startOfRecord && length >= 8) {
                    tag = in.getUnsignedInt(in.readerIndex() + 4);
                    int type = in.getInt(in.readerIndex() + 8);
                    kind = type == 0 ? "rpc-call" : type == 1 ? "rpc-reply" : "rpc-type-" + type;
                }
                startOfRecord = last;
                out.add(new Frame(in.readRetainedSlice(4 + length), kind, tag));
            }
        }
    }
}
