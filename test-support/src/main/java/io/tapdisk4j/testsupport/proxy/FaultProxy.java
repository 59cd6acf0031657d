package io.tapdisk4j.testsupport.proxy;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A fault-injecting TCP proxy on 127.0.0.1, placed between a network backend (client) and its real
 * server. Every accepted connection gets its own upstream connection; the byte streams are cut into
 * protocol frames ({@link Framing}) and each frame meets the {@link FaultPolicy}: forward, drop, hold for
 * later release, delay, duplicate, reorder, replace, or cut the connection. Tests can also stop reading
 * a direction (backpressure) and cut connections directly.
 */
public final class FaultProxy implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(FaultProxy.class);

    private final InetSocketAddress target;
    private final Framing framing;
    private volatile FaultPolicy policy;
    private final EventLoopGroup group;
    private final Channel server;
    private final List<ProxyConnection> connections = new CopyOnWriteArrayList<>();
    private final List<CompletableFuture<ProxyConnection>> accepted = new ArrayList<>();
    private final BlockingQueue<HeldFrame> held = new LinkedBlockingQueue<>();
    private final List<HeldFrame> allHeld = new CopyOnWriteArrayList<>();
    private final AtomicLong faults = new AtomicLong();
    private final boolean keepUpstreams;

    private FaultProxy(Builder b) throws InterruptedException {
        this.target = b.target;
        this.framing = b.framing;
        this.policy = b.policy;
        this.keepUpstreams = b.keepUpstreams;
        this.group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("fault-proxy", true),
                Epoll.isAvailable() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        int rcvbuf = b.receiveBufferSize;
        ServerBootstrap sb = new ServerBootstrap().group(group).channel(Epoll.isAvailable() ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accept(ch);
                    }
                });
        if (rcvbuf > 0) {
            sb.childOption(ChannelOption.SO_RCVBUF, rcvbuf);
            sb.option(ChannelOption.SO_RCVBUF, rcvbuf);
        }
        ChannelFuture bound = sb.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync();
        this.server = bound.channel();
    }

    public static Builder to(InetSocketAddress target) {
        return new Builder(target);
    }

    public static Builder to(int port) {
        return new Builder(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    }

    /** The port clients connect to (on 127.0.0.1). */
    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    public InetSocketAddress target() {
        return target;
    }

    public FaultPolicy policy() {
        return policy;
    }

    /** Switches policy for every frame from now on. */
    public void policy(FaultPolicy p) {
        this.policy = Objects.requireNonNull(p);
    }

    public List<ProxyConnection> connections() {
        return List.copyOf(connections);
    }

    /** Number of frames that met a fault other than forward (plus connections cut by the test). */
    public long faultsInjected() {
        return faults.get();
    }

    /** Counts a fault the test injected directly (a cut or a backpressure episode). */
    public void countFault() {
        faults.incrementAndGet();
    }

    /** Waits for the {@code index}th accepted connection (from 0). */
    public ProxyConnection awaitConnection(int index, Duration timeout) throws InterruptedException, TimeoutException {
        try {
            return acceptedFuture(index).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /** How many connections were accepted so far. */
    public int connectionsAccepted() {
        return connections.size();
    }

    /** Waits until {@code n} connections were accepted in all; false on timeout. */
    public boolean awaitConnections(int n, Duration timeout) throws InterruptedException {
        try {
            awaitConnection(n - 1, timeout);
            return true;
        } catch (TimeoutException e) {
            return false;
        }
    }

    /** Closes every proxied connection at once (both sides). */
    public void cutAll() {
        for (ProxyConnection c : connections) {
            c.cut();
        }
    }

    /**
     * Switches to policy {@code p} and sends on every frame still held, in the order they were held (what a
     * stalled server finally says), before any frame read later: all on the proxy's one event loop, so
     * nothing overtakes them. Frames whose connection has closed meanwhile are dropped.
     */
    public void resume(FaultPolicy p) {
        group.next().submit(() -> {
            policy(p);
            for (HeldFrame h; (h = held.poll()) != null; ) {
                h.release();
            }
        }).syncUninterruptibly();
    }

    /** The next frame held by a {@link FaultAction#HOLD}. */
    public HeldFrame awaitHeld(Duration timeout) throws InterruptedException, TimeoutException {
        HeldFrame h = held.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (h == null) {
            throw new TimeoutException("no frame held within " + timeout);
        }
        return h;
    }

    private synchronized CompletableFuture<ProxyConnection> acceptedFuture(int index) {
        while (accepted.size() <= index) {
            accepted.add(new CompletableFuture<>());
        }
        return accepted.get(index);
    }

    void held(HeldFrame h) {
        allHeld.add(h);
        held.add(h);
    }

    void countFault(ProxyConnection c, Direction d, long seq, Frame f, FaultAction a) {
        faults.incrementAndGet();
        log.debug("{} {} #{} {}: {}", c, d, seq, f, a);
    }

    private void accept(Channel clientSide) {
        int index;
        ProxyConnection conn;
        synchronized (this) {
            index = connections.size();
            conn = new ProxyConnection(this, index, clientSide);
            if (keepUpstreams) {
                conn.keepUpstream();
            }
            connections.add(conn);
        }
        Framing.ConnectionFraming cf = framing.newConnection();
        clientSide.pipeline().addLast(cf.decoder(Direction.TO_SERVER), conn.new Relay(Direction.TO_SERVER));
        Bootstrap b = new Bootstrap().group(clientSide.eventLoop()).channel(Epoll.isAvailable() ? EpollSocketChannel.class : NioSocketChannel.class)
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(cf.decoder(Direction.TO_CLIENT), conn.new Relay(Direction.TO_CLIENT));
                    }
                });
        b.connect(target).addListener((ChannelFuture f) -> {
            if (!f.isSuccess()) {
                log.warn("fault proxy cannot reach {}: {}", target, f.cause().toString());
                clientSide.close();
                acceptedFuture(index).complete(conn);
                return;
            }
            conn.serverSide(f.channel());
            f.channel().config().setAutoRead(true);
            clientSide.config().setAutoRead(true);
            f.channel().read();
            clientSide.read();
            acceptedFuture(index).complete(conn);
        });
    }

    /** Closes the listener and every connection; frames still held are discarded. */
    @Override
    public void close() {
        server.close().awaitUninterruptibly();
        for (ProxyConnection c : connections) {
            c.cut();
        }
        for (HeldFrame h : allHeld) {
            h.discard();
        }
        held.clear();
        // Scheduled sends die with the event loop: their frames are released first.
        group.next().submit(() -> connections.forEach(ProxyConnection::dropWaiting)).awaitUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    public static final class Builder {
        private final InetSocketAddress target;
        private Framing framing = Framing.chunks();
        private FaultPolicy policy = FaultPolicy.FORWARD_ALL;
        private int receiveBufferSize;
        private boolean keepUpstreams;

        private Builder(InetSocketAddress target) {
            this.target = target;
        }

        public Builder framing(Framing f) {
            this.framing = f;
            return this;
        }

        public Builder policy(FaultPolicy p) {
            this.policy = p;
            return this;
        }

        /** A small receive buffer makes {@link ProxyConnection#stopReading} push back on the sender sooner. */
        public Builder receiveBufferSize(int bytes) {
            this.receiveBufferSize = bytes;
            return this;
        }

        /**
         * Every upstream connection outlives its client: what the client sent before it vanished is still
         * answered by the server (and seen by the policy) until the test cuts the connection.
         */
        public Builder keepUpstreams() {
            this.keepUpstreams = true;
            return this;
        }

        public FaultProxy start() throws InterruptedException {
            return new FaultProxy(this);
        }
    }
}
