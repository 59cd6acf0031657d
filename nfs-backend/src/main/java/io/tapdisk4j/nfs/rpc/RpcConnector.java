package io.tapdisk4j.nfs.rpc;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.tapdisk4j.block.EventLoops;

import java.net.InetSocketAddress;

/** Makes the connections an {@link RpcClient} uses; tests substitute EmbeddedChannels. */
@FunctionalInterface
public interface RpcConnector {

    /** Connects a new channel whose pipeline {@code initializer} sets up. */
    ChannelFuture connect(ChannelHandler initializer);

    static RpcConnector tcp(InetSocketAddress address, EventLoopGroup group) {
        return initializer -> new Bootstrap().group(group).channel(EventLoops.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
                // READ replies come in megabytes: let socket reads grow to 1 MiB instead of 64 KiB.
                .option(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(4096, 65536, 1 << 20))
                .handler(initializer)
                .connect(address);
    }
}
