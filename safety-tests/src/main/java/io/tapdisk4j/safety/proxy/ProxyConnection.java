package io.tapdisk4j.safety.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One client connection through the proxy and its upstream twin. Both channels run on one event loop, so
 * the two directions' framing state and the fault decisions need no locks.
 */
public final class ProxyConnection {

    private final FaultProxy proxy;
    private final int index;
    private final Channel clientSide;
    private volatile Channel serverSide;
    private final long[] sequences = new long[2];
    private final Frame[] reorderSlot = new Frame[2];
    private volatile boolean keepUpstream;

    ProxyConnection(FaultProxy proxy, int index, Channel clientSide) {
        this.proxy = proxy;
        this.index = index;
        this.clientSide = clientSide;
    }

    public int index() {
        return index;
    }

    void serverSide(Channel c) {
        this.serverSide = c;
    }

    EventLoop loop() {
        return clientSide.eventLoop();
    }

    public boolean clientSideOpen() {
        return clientSide.isActive();
    }

    public boolean serverSideOpen() {
        Channel s = serverSide;
        return s != null && s.isActive();
    }

    /** Closes both sides: to the client it looks like the server (or the network) went away. */
    public void cut() {
        clientSide.close();
        Channel s = serverSide;
        if (s != null) {
            s.close();
        }
    }

    /** Closes only the client's side; the upstream connection stays, with whatever is held for it. */
    public void cutClientSide() {
        keepUpstream = true;
        clientSide.close();
    }

    /**
     * Stops reading frames travelling in {@code direction}: the sender's socket buffers fill and its
     * writes queue up in user space (backpressure), until {@link #resumeReading}.
     */
    public void stopReading(Direction direction) {
        source(direction).config().setAutoRead(false);
    }

    public void resumeReading(Direction direction) {
        Channel c = source(direction);
        c.config().setAutoRead(true);
        c.read();
    }

    private Channel source(Direction direction) {
        Channel c = direction == Direction.TO_SERVER ? clientSide : serverSide;
        if (c == null) {
            throw new IllegalStateException("connection " + index + " has no upstream yet");
        }
        return c;
    }

    private Channel destination(Direction direction) {
        return direction == Direction.TO_SERVER ? serverSide : clientSide;
    }

    /** Writes {@code frame} (consuming it) towards its destination; false if that side is closed. */
    CompletableFuture<Boolean> send(Direction direction, Frame frame) {
        CompletableFuture<Boolean> result = new CompletableFuture<>();
        Channel dest = destination(direction);
        if (dest == null || !dest.isActive()) {
            frame.release();
            result.complete(false);
            return result;
        }
        ChannelFuture f = dest.writeAndFlush(frame.bytes().retain());
        frame.release();
        f.addListener(done -> result.complete(done.isSuccess()));
        return result;
    }

    private void forward(Direction direction, Frame frame) {
        send(direction, frame);
        int d = direction.ordinal();
        Frame swapped = reorderSlot[d];
        if (swapped != null) {
            reorderSlot[d] = null;
            send(direction, swapped);
        }
    }

    /** The handler at the end of each side's pipeline: frames from the decoder meet the policy here. */
    final class Relay extends ChannelInboundHandlerAdapter {
        private final Direction direction;

        Relay(Direction direction) {
            this.direction = direction;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof Frame frame)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            long seq = sequences[direction.ordinal()]++;
            FaultAction action;
            try {
                action = proxy.policy().decide(new FaultPolicy.FrameEvent(ProxyConnection.this, direction, seq, frame));
            } catch (RuntimeException e) {
                frame.release();
                throw e;
            }
            if (!(action instanceof FaultAction.Forward)) {
                proxy.countFault(ProxyConnection.this, direction, seq, frame, action);
            }
            switch (action) {
                case FaultAction.Forward f -> forward(direction, frame);
                case FaultAction.Drop d -> frame.release();
                case FaultAction.Hold h -> {
                    if (direction == Direction.TO_SERVER) {
                        keepUpstream = true;
                    }
                    proxy.held(new HeldFrame(ProxyConnection.this, direction, seq, frame));
                }
                case FaultAction.Duplicate d -> {
                    frame.retain();
                    forward(direction, frame);
                    send(direction, frame);
                }
                case FaultAction.Delay delay -> loop().schedule(() -> send(direction, frame),
                        delay.delay().toNanos(), TimeUnit.NANOSECONDS);
                case FaultAction.Reorder r -> {
                    int d = direction.ordinal();
                    if (reorderSlot[d] != null) {
                        forward(direction, frame); // already one waiting: this one overtakes it
                    } else {
                        reorderSlot[d] = frame;
                        loop().schedule(() -> {
                            if (reorderSlot[d] == frame) {
                                reorderSlot[d] = null;
                                send(direction, frame);
                            }
                        }, 100, TimeUnit.MILLISECONDS);
                    }
                }
                case FaultAction.Cut c -> {
                    frame.release();
                    if (c.clientSideOnly()) {
                        cutClientSide();
                    } else {
                        cut();
                    }
                }
                case FaultAction.Replace rep -> {
                    ByteBuf replaced = rep.rewrite().apply(frame.bytes().retainedDuplicate());
                    frame.release();
                    forward(direction, new Frame(replaced, "replaced", -1));
                }
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            // The client going away closes the upstream too, unless the test cut only the client side
            // (or holds frames for the upstream): that one stays until the proxy closes.
            if (direction == Direction.TO_CLIENT) {
                clientSide.close();
            } else if (!keepUpstream) {
                Channel s = serverSide;
                if (s != null) {
                    s.close();
                }
            }
            for (int d = 0; d < 2; d++) {
                Frame f = reorderSlot[d];
                if (f != null && !destinationOpen(d)) {
                    reorderSlot[d] = null;
                    f.release();
                }
            }
            ctx.fireChannelInactive();
        }

        private boolean destinationOpen(int d) {
            Channel c = destination(Direction.values()[d]);
            return c != null && c.isActive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    @Override
    public String toString() {
        return "proxy connection " + index;
    }
}
