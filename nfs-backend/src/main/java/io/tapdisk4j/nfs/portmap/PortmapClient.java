package io.tapdisk4j.nfs.portmap;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.nfs.rpc.RpcAuth;
import io.tapdisk4j.nfs.rpc.RpcClient;
import io.tapdisk4j.nfs.rpc.RpcException;

import java.util.concurrent.CompletableFuture;

/** Portmapper version 2 (RFC 1833 section 3): GETPORT, to find where MOUNT and NFS listen. */
public final class PortmapClient {

    public static final int PROGRAM = 100000;
    public static final int VERSION = 2;
    public static final int PORT = 111;
    public static final int PROC_GETPORT = 3;
    public static final int IPPROTO_TCP = 6;

    private final RpcClient rpc;
    private final ByteBufAllocator alloc;

    public PortmapClient(RpcClient rpc, ByteBufAllocator alloc) {
        this.rpc = rpc;
        this.alloc = alloc;
    }

    /** The TCP port of {@code program} version {@code version}; fails (EIO) when it is not registered. */
    public CompletableFuture<Integer> getPort(int program, int version) {
        ByteBuf args = alloc.buffer(16);
        args.writeInt(program);
        args.writeInt(version);
        args.writeInt(IPPROTO_TCP);
        args.writeInt(0);
        return rpc.call(PROGRAM, VERSION, PROC_GETPORT, RpcAuth.none(), args, x -> {
            long port = x.readUnsignedInt();
            if (port == 0 || port > 65535) {
                throw new RpcException(BlockError.EIO, "program " + program + " version " + version
                        + " is not registered with the portmapper" + (port == 0 ? "" : " (bad port " + port + ")"));
            }
            return (int) port;
        });
    }
}
