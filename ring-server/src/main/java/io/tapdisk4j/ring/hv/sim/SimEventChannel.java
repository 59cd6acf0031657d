package io.tapdisk4j.ring.hv.sim;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.ReferenceCountUtil;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.ring.hv.EventChannel;
import io.tapdisk4j.ring.hv.HypervisorException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * An interdomain event channel of the simulation: a connection to the guest's listening socket. Every
 * notification is one byte; bytes arriving together are one event, and notifications sent while one is
 * still queued are merged, as the contract allows.
 */
final class SimEventChannel implements EventChannel {

    private static final Logger LOG = LoggerFactory.getLogger(SimEventChannel.class);

    private final Channel channel;
    private final int port;
    private final AtomicBoolean pending = new AtomicBoolean();

    private SimEventChannel(Channel channel, int port) {
        this.channel = channel;
        this.port = port;
    }

    static SimEventChannel connect(EventLoopGroup loops, Path socket, int port, Runnable onEvent,
                                   Consumer<SimEventChannel> onClose) throws HypervisorException {
        Bootstrap b = new Bootstrap().group(loops).channel(EventLoops.domainSocketChannel())
                .handler(new Notifications(onEvent));
        var f = b.connect(new DomainSocketAddress(socket.toString()));
        if (!f.awaitUninterruptibly(10, TimeUnit.SECONDS) || !f.isSuccess()) {
            f.channel().close();
            throw new HypervisorException("cannot bind event channel " + socket + ": "
                    + (f.cause() == null ? "timeout" : f.cause().getMessage()), f.cause());
        }
        SimEventChannel ch = new SimEventChannel(f.channel(), port);
        f.channel().closeFuture().addListener(x -> onClose.accept(ch));
        return ch;
    }

    @Override
    public int localPort() {
        return port;
    }

    @Override
    public void notifyRemote() throws HypervisorException {
        if (!channel.isActive()) {
            throw new HypervisorException("event channel " + port + " is closed");
        }
        if (channel.eventLoop().inEventLoop()) {
            channel.writeAndFlush(Unpooled.wrappedBuffer(new byte[]{1}), channel.voidPromise());
        } else if (pending.compareAndSet(false, true)) {
            channel.eventLoop().execute(() -> {
                pending.set(false);
                channel.writeAndFlush(Unpooled.wrappedBuffer(new byte[]{1}), channel.voidPromise());
            });
        }
    }

    @Override
    public void close() {
        // Queued behind any notification already handed to the loop, so the last one is not lost.
        io.netty.util.concurrent.Promise<Void> done = channel.eventLoop().newPromise();
        channel.eventLoop().execute(() -> channel.close().addListener(f -> done.trySuccess(null)));
        if (!channel.eventLoop().inEventLoop()) {
            done.awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    /** Turns each batch of received bytes into one event. */
    private static final class Notifications extends ChannelInboundHandlerAdapter {
        private final Runnable onEvent;
        private boolean seen;

        Notifications(Runnable onEvent) {
            this.onEvent = onEvent;
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
                try {
                    onEvent.run();
                } catch (RuntimeException e) {
                    LOG.warn("event handler failed", e);
                }
            }
        }

        /**
         * A Unix socket closed with unread bytes resets the connection and the peer may lose the bytes it
         * had not read yet, so the end of a connection counts as one more (possibly spurious) event.
         */
        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            channelReadComplete0();
        }

        private void channelReadComplete0() {
            try {
                onEvent.run();
            } catch (RuntimeException e) {
                LOG.warn("event handler failed", e);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.debug("event channel error, closing", cause);
            ctx.close();
        }
    }
}
