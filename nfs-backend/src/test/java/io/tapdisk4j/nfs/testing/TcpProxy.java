package io.tapdisk4j.nfs.testing;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.util.ReferenceCountUtil;
import io.tapdisk4j.block.EventLoops;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A loopback TCP proxy between the client and a server, for faults: {@link #cutAll()} closes every
 * connection, {@link #stall(boolean)} silently drops server-to-client bytes (a server that stopped
 * answering), {@link #delayReplies(Duration)} holds them back (replies arriving after the client's timeout).
 */
public final class TcpProxy implements AutoCloseable {

    private final EventLoopGroup group = EventLoops.newGroup("test-proxy", 1);
    private final Channel server;
    private final Set<Channel> connections = ConcurrentHashMap.newKeySet();
    private final AtomicLong connects = new AtomicLong();
    private volatile boolean stalled;
    private volatile long delayNanos;

    public TcpProxy(int targetPort) throws InterruptedException {
        InetSocketAddress target = new InetSocketAddress("127.0.0.1", targetPort);
        server = new ServerBootstrap().group(group).channel(EventLoops.serverSocketChannel())
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel client) {
                        connects.incrementAndGet();
                        connections.add(client);
                        ChannelFuture up = new Bootstrap().group(client.eventLoop()).channel(EventLoops.socketChannel())
                                .handler(new ChannelInitializer<>() {
                                    @Override
                                    protected void initChannel(Channel ch) {
                                        ch.pipeline().addLast(new Relay(client, true));
                                    }
                                }).connect(target);
                        Channel upstream = up.channel();
                        connections.add(upstream);
                        client.pipeline().addLast(new Relay(upstream, false));
                        up.addListener((ChannelFuture f) -> {
                            if (f.isSuccess()) {
                                client.config().setAutoRead(true);
                            } else {
                                client.close();
                            }
                        });
                    }
                }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    public long connects() {
        return connects.get();
    }

    /** Closes every proxied connection (both sides), as a network failure would. */
    public void cutAll() {
        for (Channel c : connections) {
            c.close();
        }
    }

    public void stall(boolean on) {
        stalled = on;
    }

    public void delayReplies(Duration d) {
        delayNanos = d.toNanos();
    }

    private final class Relay extends ChannelInboundHandlerAdapter {
        private final Channel peer;
        private final boolean fromServer;
        /** Delayed bytes in arrival order; released if the connection ends first. */
        private final java.util.ArrayDeque<ByteBuf> held = new java.util.ArrayDeque<>();

        Relay(Channel peer, boolean fromServer) {
            this.peer = peer;
            this.fromServer = fromServer;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (fromServer && stalled) {
                ReferenceCountUtil.release(msg);
                return;
            }
            long delay = fromServer ? delayNanos : 0;
            if (delay > 0) {
                held.add((ByteBuf) msg);
                ctx.executor().schedule(() -> {
                    ByteBuf next = held.poll();
                    if (next != null) {
                        forward(next);
                    }
                }, delay, TimeUnit.NANOSECONDS);
            } else {
                forward((ByteBuf) msg);
            }
        }

        private void forward(ByteBuf msg) {
            if (peer.isActive()) {
                peer.writeAndFlush(msg);
            } else {
                msg.release();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            ByteBuf b;
            while ((b = held.poll()) != null) {
                b.release();
            }
            connections.remove(ctx.channel());
            peer.close();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        cutAll();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
