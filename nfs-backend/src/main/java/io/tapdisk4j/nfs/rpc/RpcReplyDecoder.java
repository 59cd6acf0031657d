package io.tapdisk4j.nfs.rpc;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageDecoder;
import io.tapdisk4j.nfs.xdr.XdrDecoder;
import io.tapdisk4j.nfs.xdr.XdrException;

import java.util.List;

/** Decodes one record into an {@link RpcReply}; anything that is not a well-formed reply is an error. */
public final class RpcReplyDecoder extends MessageToMessageDecoder<ByteBuf> {

    public static final int REPLY = 1;
    private static final int MAX_VERIFIER = 400;

    public RpcReplyDecoder() {
        super(ByteBuf.class);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf record, List<Object> out) {
        out.add(decode(record));
    }

    /** Decodes a reply; the result's body is a retained slice of {@code record}. Throws XdrException. */
    public static RpcReply decode(ByteBuf record) {
        XdrDecoder x = new XdrDecoder(record);
        int xid = x.readInt();
        int type = x.readInt();
        if (type != REPLY) {
            throw new XdrException("RPC message of type " + type + " where a reply was expected (xid " + xid + ")");
        }
        int replyStat = x.readEnum(1, "reply_stat");
        if (replyStat == 1) {
            int reject = x.readEnum(1, "reject_stat");
            if (reject == 0) {
                int low = x.readInt();
                int high = x.readInt();
                return new RpcReply(xid, RpcReply.Status.RPC_MISMATCH, low, high, 0, record.alloc().buffer(0));
            }
            int authStat = x.readInt();
            return new RpcReply(xid, RpcReply.Status.AUTH_ERROR, 0, 0, authStat, record.alloc().buffer(0));
        }
        x.readInt(); // verifier flavor
        x.readOpaque(MAX_VERIFIER, "reply verifier");
        int accept = x.readEnum(5, "accept_stat");
        RpcReply.Status status = RpcReply.Status.values()[accept];
        if (status == RpcReply.Status.PROG_MISMATCH) {
            int low = x.readInt();
            int high = x.readInt();
            return new RpcReply(xid, status, low, high, 0, record.alloc().buffer(0));
        }
        if (status != RpcReply.Status.SUCCESS) {
            return new RpcReply(xid, status, 0, 0, 0, record.alloc().buffer(0));
        }
        return new RpcReply(xid, status, 0, 0, 0, record.readRetainedSlice(record.readableBytes()));
    }
}
