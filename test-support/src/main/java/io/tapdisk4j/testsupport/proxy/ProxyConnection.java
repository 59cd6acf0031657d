package io.tapdisk4j.testsupport.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.DuplexChannel;
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
    /** Frames a {@link FaultAction#delay} will send later (event-loop confined): released if the proxy closes first. */
    private final java.util.Set<Frame> delayed = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    private volatile boolean keepUpstream;
    // Per direction, loop-confined: reading stopped; frames read anyway meanwhile; the source closed meanwhile.
    private final boolean[] paused = new boolean[2];
    @SuppressWarnings("unchecked")
    private final java.util.ArrayDeque<Frame>[] pending = new java.util.ArrayDeque[] {new java.util.ArrayDeque<Frame>(),
            new java.util.ArrayDeque<Frame>()};
    private final boolean[] goneWhilePaused = new boolean[2];
    /** Per direction: the side frames in that direction come from has gone inactive. */
    @SuppressWarnings("unchecked")
    private final CompletableFuture<Void>[] inactive = new CompletableFuture[] {new CompletableFuture<>(),
            new CompletableFuture<>()};

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
        onLoop(() -> {
            for (Direction d : Direction.values()) {
                int i = d.ordinal();
                paused[i] = false;
                Frame f;
                while ((f = pending[i].poll()) != null) {
                    f.release();
                }
                if (goneWhilePaused[i]) {
                    goneWhilePaused[i] = false;
                    sourceGone(d);
                }
            }
        });
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
     * Ends the stream towards the client (a FIN, as a server closing its end would send) while the proxy can
     * still read whatever the client sent or will send: bytes queued in the client's socket when it closes
     * in turn still arrive once the proxy reads again. The upstream connection stays open after the client
     * has gone, for those stale bytes and the server's answers to them; {@link #cut} ends it.
     */
    public CompletableFuture<Void> closeTowardsClient() {
        keepUpstream = true;
        CompletableFuture<Void> done = new CompletableFuture<>();
        if (!(clientSide instanceof DuplexChannel duplex)) {
            done.completeExceptionally(new IllegalStateException(clientSide + " cannot be half-closed"));
            return done;
        }
        duplex.shutdownOutput().addListener(f -> {
            if (f.isSuccess()) {
                done.complete(null);
            } else {
                done.completeExceptionally(f.cause());
            }
        });
        return done;
    }

    /** Keeps the upstream connection open when the client's side closes (until {@link #cut} or the proxy closes). */
    public void keepUpstream() {
        keepUpstream = true;
    }

    /** Completes once the client's side has closed and every frame read from it went through the policy. */
    public CompletableFuture<Void> clientSideClosed() {
        return inactive[Direction.TO_SERVER.ordinal()];
    }

    /** Completes once the upstream connection has closed and every frame read from it went through the policy. */
    public CompletableFuture<Void> serverSideClosed() {
        return inactive[Direction.TO_CLIENT.ordinal()];
    }

    /**
     * Stops reading frames travelling in {@code direction}: the sender's socket buffers fill and its
     * writes queue up in user space (backpressure), until {@link #resumeReading}. Whatever the proxy still
     * reads from that side meanwhile (Netty drains a socket whose peer closed, whatever autoRead says) is
     * kept, unseen by the policy, and passed on only after the resume, in order: to the server nothing
     * arrives while the proxy "does not read". Returns once the stop is in effect.
     */
    public void stopReading(Direction direction) {
        Channel c = source(direction);
        onLoop(() -> {
            c.config().setAutoRead(false);
            paused[direction.ordinal()] = true;
        });
    }

    /**
     * Reads {@code direction} again: frames kept while stopped meet the policy now, in order (and if that
     * side closed meanwhile, its close is handled after them). Returns once they went through the policy.
     */
    public void resumeReading(Direction direction) {
        Channel c = source(direction);
        onLoop(() -> {
            int d = direction.ordinal();
            paused[d] = false;
            Frame f;
            while ((f = pending[d].poll()) != null) {
                process(direction, f);
            }
            if (goneWhilePaused[d]) {
                goneWhilePaused[d] = false;
                sourceGone(direction);
            } else {
                c.config().setAutoRead(true);
                c.read();
            }
        });
    }

    /** Runs {@code task} on this connection's event loop and waits for it. */
    private void onLoop(Runnable task) {
        if (loop().inEventLoop()) {
            task.run();
        } else {
            loop().submit(task).syncUninterruptibly();
        }
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

    /** One frame meets the policy, and its fate. */
    private void process(Direction direction, Frame frame) {
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
            case FaultAction.Delay delay -> {
                delayed.add(frame);
                loop().schedule(() -> {
                    if (delayed.remove(frame)) {
                        send(direction, frame);
                    }
                }, delay.delay().toNanos(), TimeUnit.NANOSECONDS);
            }
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

    /** Releases the frames still waiting for a delay or a reorder (the proxy is closing; on the event loop). */
    void dropWaiting() {
        for (Frame f : delayed) {
            f.release();
        }
        delayed.clear();
        for (int d = 0; d < 2; d++) {
            if (reorderSlot[d] != null) {
                reorderSlot[d].release();
                reorderSlot[d] = null;
            }
        }
    }

    /** The side {@code direction}'s frames come from has closed. */
    private void sourceGone(Direction direction) {
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
        inactive[direction.ordinal()].complete(null);
    }

    private boolean destinationOpen(int d) {
        Channel c = destination(Direction.values()[d]);
        return c != null && c.isActive();
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
            if (paused[direction.ordinal()]) {
                pending[direction.ordinal()].add(frame);
                return;
            }
            process(direction, frame);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            ctx.fireChannelInactive();
            if (paused[direction.ordinal()]) {
                goneWhilePaused[direction.ordinal()] = true; // handled on resume, after the frames kept
            } else {
                sourceGone(direction);
            }
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
