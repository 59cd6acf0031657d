package io.tapdisk4j.nfs.rpc;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;

/** An RPC call message (RFC 5531 section 9): header fields plus already-encoded procedure arguments. */
public final class RpcCall {

    public static final int CALL = 0;
    public static final int RPC_VERSION = 2;

    private RpcCall() {
    }

    /**
     * Encodes a call as one buffer: the header, then {@code args} appended without copying. Takes over
     * {@code args}' reference; the result holds the only reference to it.
     */
    public static ByteBuf encode(ByteBufAllocator alloc, int xid, int program, int version, int procedure,
                                 RpcAuth credential, ByteBuf args) {
        ByteBuf header = alloc.buffer(128);
        header.writeInt(xid);
        header.writeInt(CALL);
        header.writeInt(RPC_VERSION);
        header.writeInt(program);
        header.writeInt(version);
        header.writeInt(procedure);
        credential.encode(header);
        RpcAuth.encodeNoneVerifier(header);
        CompositeByteBuf msg = alloc.compositeBuffer(2);
        msg.addComponent(true, header);
        msg.addComponent(true, args);
        return msg;
    }
}
