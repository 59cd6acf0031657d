package io.tapdisk4j.ring.hv.sim;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.ReferenceCountUtil;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.ring.hv.HypervisorException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A guest's unbound event-channel port: a listening socket; the backend binds by connecting. A notification
 * sent before the backend is bound stays pending and is delivered on connection, as Xen keeps the pending bit.
 */
public final class GuestPort implements AutoCloseable {

    private final int port;
    private final Path path;
    private final Channel server;
    private final CompletableFuture<Void> bound = new CompletableFuture<>();
    private volatile Channel peer;
    private final AtomicBoolean pending = new AtomicBoolean();
    private final Runnable onEvent;

    private GuestPort(int port, Path path, Channel server, Runnable onEvent) {
        this.port = port;
        this.path = path;
        this.server = server;
        this.onEvent = onEvent;
    }

    static GuestPort listen(EventLoopGroup loops, Path path, int port, Runnable onEvent) throws HypervisorException {
        GuestPort[] self = new GuestPort[1];
        // One vCPU takes the port's events, as Xen delivers an event channel to the one vCPU it is bound to.
        // Listening and accepted sockets on the same loop: with the group's round robin, the accepted sockets of
        // two ports could both land on one thread, depending on when the backend connected.
        EventLoop vcpu = loops.next();
        ServerBootstrap b = new ServerBootstrap().group(vcpu, vcpu).channel(EventLoops.serverDomainSocketChannel())
                // A new handler per connection: the backend may unbind and bind again (pause/resume, reconnect).
                .childHandler(new io.netty.channel.ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                    private boolean seen;

                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        self[0].accepted(ctx.channel());
                    }

                    /** A reset connection may have swallowed the last notification: one more event. */
                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                        self[0].onEvent.run();
                    }

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ReferenceCountUtil.release(msg);
                        seen = true;
                    }

                    @Override
                    public void channelReadComplete(ChannelHandlerContext ctx) {
                        if (seen) {
                            seen = false;
                            self[0].onEvent.run();
                        }
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        ctx.close();
                    }
                        });
                    }
                });
        try {
            Files.deleteIfExists(path);
        } catch (java.io.IOException e) {
            throw new HypervisorException("cannot remove stale " + path, e);
        }
        var f = b.bind(new DomainSocketAddress(path.toString()));
        if (!f.awaitUninterruptibly(10, TimeUnit.SECONDS) || !f.isSuccess()) {
            throw new HypervisorException("cannot listen on " + path, f.cause());
        }
        self[0] = new GuestPort(port, path, f.channel(), onEvent);
        return self[0];
    }

    private void accepted(Channel ch) {
        Channel old = peer;
        peer = ch;
        if (old != null) {
            old.close();
        }
        bound.complete(null);
        if (pending.getAndSet(false)) {
            ch.writeAndFlush(Unpooled.wrappedBuffer(new byte[]{1}));
        }
    }

    public int port() {
        return port;
    }

    /** Completes when the backend has bound (connected). */
    public CompletableFuture<Void> bound() {
        return bound;
    }

    /** True while a backend is connected. */
    public boolean isBound() {
        Channel p = peer;
        return p != null && p.isActive();
    }

    /** EVTCHNOP_send: one byte to the backend (kept pending until the backend binds). */
    public void notifyBackend() {
        Channel p = peer;
        if (p == null || !p.isActive()) {
            pending.set(true);
            p = peer;
            if (p == null || !p.isActive() || !pending.getAndSet(false)) {
                return;
            }
        }
        p.writeAndFlush(Unpooled.wrappedBuffer(new byte[]{1}), p.voidPromise());
    }

    @Override
    public void close() {
        Channel p = peer;
        if (p != null) {
            p.close();
        }
        server.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        try {
            Files.deleteIfExists(path);
        } catch (java.io.IOException ignored) {
            // the directory is removed with the guest
        }
    }
}
