package io.tapdisk4j.iscsi.testing;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.util.ReferenceCountUtil;
import io.tapdisk4j.block.EventLoops;

import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP proxy between the initiator and a target, in process, that can cut every connection or stall
 * the target's answers (held, then delivered on {@link #resume}), to play a flaky network or a slow target.
 */
public final class FaultProxy implements AutoCloseable {

    private final EventLoopGroup group = EventLoops.newGroup("fault-proxy", 1);
    private final int targetPort;
    private final Channel server;
    private final List<Channel> channels = new CopyOnWriteArrayList<>();
    private final List<Upstream> upstreams = new CopyOnWriteArrayList<>();
    private final AtomicInteger accepted = new AtomicInteger();
    private volatile boolean stalled;

    public FaultProxy(int targetPort) throws InterruptedException {
        this.targetPort = targetPort;
        server = new ServerBootstrap().group(group).channel(EventLoops.serverSocketChannel())
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        synchronized (accepted) {
                            accepted.incrementAndGet();
                            accepted.notifyAll();
                        }
                        channels.add(ch);
                        ch.pipeline().addLast(new Downstream());
                    }
                }).bind("127.0.0.1", 0).sync().channel();
    }

    public int port() {
        return ((java.net.InetSocketAddress) server.localAddress()).getPort();
    }

    public int connectionsAccepted() {
        return accepted.get();
    }

    /** Waits until {@code n} connections were accepted in all; false on timeout. */
    public boolean awaitConnections(int n, java.time.Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (accepted) {
            while (accepted.get() < n) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(accepted, left);
            }
            return true;
        }
    }

    /** Closes every proxied connection at once (both sides). */
    public void cutAll() {
        for (Channel c : channels) {
            c.close();
        }
    }

    /** From now on, what the target sends is held back. */
    public void stall() {
        stalled = true;
    }

    /** Delivers everything held back and forwards normally again. */
    public void resume() {
        stalled = false;
        for (Upstream u : upstreams) {
            u.release();
        }
    }

    @Override
    public void close() {
        cutAll();
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        for (Upstream u : upstreams) {
            u.drop();
        }
    }

    /** Initiator side: forwards to the target connection opened for it. */
    private final class Downstream extends ChannelInboundHandlerAdapter {
        private Channel outbound;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            Channel in = ctx.channel();
            Upstream up = new Upstream(in);
            upstreams.add(up);
            new Bootstrap().group(in.eventLoop()).channel(EventLoops.socketChannel())
                    .handler(up).connect("127.0.0.1", targetPort).addListener(f -> {
                        if (f.isSuccess()) {
                            outbound = ((io.netty.channel.ChannelFuture) f).channel();
                            channels.add(outbound);
                            in.config().setAutoRead(true);
                        } else {
                            in.close();
                        }
                    });
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            outbound.writeAndFlush(msg);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (outbound != null) {
                outbound.close();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** Target side: forwards to the initiator, or holds while stalled. */
    private final class Upstream extends ChannelInboundHandlerAdapter {
        private final Channel initiator;
        private final ArrayDeque<ByteBuf> held = new ArrayDeque<>();

        Upstream(Channel initiator) {
            this.initiator = initiator;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (stalled) {
                held.add((ByteBuf) msg);
            } else {
                initiator.writeAndFlush(msg);
            }
        }

        void release() {
            initiator.eventLoop().execute(() -> {
                for (ByteBuf b; (b = held.poll()) != null; ) {
                    if (initiator.isActive()) {
                        initiator.write(b);
                    } else {
                        b.release();
                    }
                }
                initiator.flush();
            });
        }

        void drop() {
            for (ByteBuf b; (b = held.poll()) != null; ) {
                ReferenceCountUtil.release(b);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            initiator.close();
            ctx.channel().eventLoop().execute(this::drop);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
