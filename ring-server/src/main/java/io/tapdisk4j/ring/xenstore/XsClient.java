package io.tapdisk4j.ring.xenstore;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.tapdisk4j.block.EventLoops;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A xenstore client over the xenstored Unix socket (a real dom0's {@link #DOM0_SOCKET}, or a simulation's
 * DIR/xenstored.sock). Requests carry their own req_id, so any number may be outstanding at once
 * ({@link #send} pipelines; the blocking {@link XsOps} methods wait for one answer). Watch events go to the
 * listener registered with their token. When the connection drops, outstanding requests fail with
 * {@link XsConnectionException}, the client reconnects in the background with backoff, registers every
 * watch again (xenstored fires each once on registration, so listeners resynchronise) and tells the
 * {@link #onReconnect} listeners. Blocking calls must not run on the event loop.
 */
public final class XsClient implements XsOps, AutoCloseable {

    public static final Path DOM0_SOCKET = Path.of("/var/run/xenstored/socket");
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    private static final Logger log = LoggerFactory.getLogger(XsClient.class);

    private final Path socket;
    private final Duration timeout;
    private final EventLoopGroup group;
    private final AtomicInteger nextReqId = new AtomicInteger(1);
    private final Map<Integer, Pending> pending = new ConcurrentHashMap<>();
    private final Map<String, Registered> watches = new ConcurrentHashMap<>();
    private final List<Runnable> reconnectListeners = new CopyOnWriteArrayList<>();
    private volatile Channel channel;
    private volatile boolean closed;
    private long backoffMillis = 50;

    private record Pending(CompletableFuture<XsMessage> future, XsType type, String what) {
    }

    private record Registered(String path, XsWatchListener listener) {
    }

    private XsClient(Path socket, Duration timeout) {
        this.socket = socket;
        this.timeout = timeout;
        this.group = EventLoops.shared();
    }

    /** Connects (the first connection must succeed) with the default 30 s answer timeout. */
    public static XsClient connect(Path socket) throws XsException {
        return connect(socket, DEFAULT_TIMEOUT);
    }

    public static XsClient connect(Path socket, Duration timeout) throws XsException {
        XsClient c = new XsClient(socket, timeout);
        try {
            c.channel = c.open().sync().channel();
        } catch (Exception e) {
            throw new XsConnectionException("cannot connect to xenstored at " + socket + ": " + e.getMessage(), e);
        }
        c.watchClose(c.channel);
        return c;
    }

    public Path socket() {
        return socket;
    }

    public boolean connected() {
        Channel ch = channel;
        return ch != null && ch.isActive();
    }

    /** Runs after every successful reconnection (on the event loop; do not block). */
    public void onReconnect(Runnable listener) {
        reconnectListeners.add(listener);
    }

    private ChannelFuture open() {
        return new Bootstrap().group(group).channel(EventLoops.domainSocketChannel())
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new XsDecoder(), new XsEncoder(), new Handler());
                    }
                })
                .connect(new DomainSocketAddress(socket.toFile()));
    }

    private void watchClose(Channel ch) {
        ch.closeFuture().addListener(f -> connectionLost(ch));
    }

    private void connectionLost(Channel ch) {
        if (channel != ch) {
            return;
        }
        channel = null;
        XsConnectionException gone = new XsConnectionException("connection to xenstored at " + socket + " lost");
        pending.values().forEach(p -> p.future.completeExceptionally(gone));
        pending.clear();
        if (!closed) {
            log.warn("xenstore connection to {} lost; reconnecting", socket);
            scheduleReconnect();
        }
    }

    private synchronized void scheduleReconnect() {
        long delay = backoffMillis;
        backoffMillis = Math.min(backoffMillis * 2, 2000);
        group.schedule(this::reconnect, delay, TimeUnit.MILLISECONDS);
    }

    private void reconnect() {
        if (closed) {
            return;
        }
        open().addListener((ChannelFuture f) -> {
            if (!f.isSuccess()) {
                scheduleReconnect();
                return;
            }
            Channel ch = f.channel();
            if (closed) {
                ch.close();
                return;
            }
            synchronized (this) {
                backoffMillis = 50;
            }
            channel = ch;
            watchClose(ch);
            log.info("xenstore connection to {} re-established; re-registering {} watch(es)", socket,
                    watches.size());
            watches.forEach((token, r) -> send(XsType.WATCH, 0, XsMessage.strings(r.path, token))
                    .whenComplete((m, e) -> {
                        if (e != null) {
                            log.warn("re-registering watch {} ({}) failed: {}", r.path, token, e.getMessage());
                        }
                    }));
            reconnectListeners.forEach(Runnable::run);
        });
    }

    /**
     * Sends a request and returns its answer's future, without waiting: callers may pipeline any number.
     * ERROR answers complete it with an {@link XsErrorException}.
     */
    public CompletableFuture<XsMessage> send(XsType type, int txId, byte[] payload) {
        CompletableFuture<XsMessage> f = new CompletableFuture<>();
        Channel ch = channel;
        if (closed || ch == null || !ch.isActive()) {
            f.completeExceptionally(new XsConnectionException(closed ? "xenstore client closed"
                    : "not connected to xenstored at " + socket));
            return f;
        }
        int reqId = nextReqId.getAndIncrement();
        pending.put(reqId, new Pending(f, type, describe(type, payload)));
        // A caller that gave up (timeout) must not leave its entry behind.
        f.whenComplete((m, e) -> {
            if (f.isCancelled()) {
                pending.remove(reqId);
            }
        });
        ch.writeAndFlush(XsMessage.of(type, reqId, txId, payload)).addListener(w -> {
            if (!w.isSuccess()) {
                Pending p = pending.remove(reqId);
                if (p != null) {
                    p.future.completeExceptionally(new XsConnectionException("sending " + type + " failed",
                            w.cause()));
                }
            }
        });
        return f;
    }

    @Override
    public XsMessage call(XsType type, byte[] payload) throws XsException {
        return call(type, 0, payload);
    }

    XsMessage call(XsType type, int txId, byte[] payload) throws XsException {
        Channel ch = channel;
        if (ch != null && ch.eventLoop().inEventLoop()) {
            throw new IllegalStateException("blocking xenstore call on the event loop");
        }
        CompletableFuture<XsMessage> f = send(type, txId, payload);
        try {
            return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof XsException x) {
                throw x;
            }
            throw new XsException(type + " failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            f.cancel(false);
            throw new XsConnectionException("xenstored did not answer " + type + " within " + timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new XsConnectionException("interrupted waiting for " + type);
        }
    }

    /**
     * Registers a watch; xenstored fires it once now and on every change at or below {@code path}. Tokens
     * identify watches and must be unique per client.
     */
    public XsWatch watch(String path, String token, XsWatchListener listener) throws XsException {
        if (watches.putIfAbsent(token, new Registered(path, listener)) != null) {
            throw new IllegalArgumentException("watch token already in use: " + token);
        }
        try {
            call(XsType.WATCH, XsMessage.strings(path, token));
        } catch (XsException | RuntimeException e) {
            watches.remove(token);
            throw e;
        }
        return new XsWatch(this, path, token);
    }

    void unwatch(XsWatch w) {
        if (watches.remove(w.token()) == null) {
            return;
        }
        send(XsType.UNWATCH, 0, XsMessage.strings(w.path(), w.token()));
    }

    /** Starts a transaction; prefer {@link #transaction}, which retries on EAGAIN. */
    public XsTransaction begin() throws XsException {
        String id = call(XsType.TRANSACTION_START, XsMessage.strings("")).text();
        try {
            return new XsTransaction(this, Integer.parseUnsignedInt(id));
        } catch (NumberFormatException e) {
            throw new XsException("xenstored returned a bad transaction id '" + id + "'");
        }
    }

    /**
     * Runs {@code body} in a transaction and commits, starting over on EAGAIN (with a short random backoff,
     * so that writers racing for the same parent node take turns) until the client's timeout has passed.
     */
    public <T> T transaction(XsTxBody<T> body) throws XsException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (int attempt = 1; ; attempt++) {
            XsTransaction tx = begin();
            try {
                T result = body.run(tx);
                tx.commit();
                return result;
            } catch (XsConflictException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
            } finally {
                tx.close();
            }
            try {
                Thread.sleep(ThreadLocalRandom.current().nextLong(1 + Math.min(50, 1L << Math.min(attempt, 6))));
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                throw new XsConnectionException("interrupted retrying a transaction");
            }
        }
    }

    /** GET_DOMAIN_PATH: /local/domain/&lt;domid&gt;. */
    public String domainPath(int domid) throws XsException {
        return call(XsType.GET_DOMAIN_PATH, XsMessage.strings(Integer.toString(domid))).text();
    }

    @Override
    public void close() {
        closed = true;
        Channel ch = channel;
        if (ch != null) {
            ch.close().syncUninterruptibly();
        }
    }

    private static String describe(XsType type, byte[] payload) {
        List<String> parts = new XsMessage(type.code(), 0, 0, payload).strings();
        return type + (parts.isEmpty() ? "" : " " + parts.getFirst());
    }

    private void dispatchEvent(XsMessage m) {
        List<String> parts = m.strings();
        if (parts.size() < 2) {
            log.warn("malformed watch event from xenstored: {}", m);
            return;
        }
        Registered r = watches.get(parts.get(1));
        if (r == null) {
            return; // an event already in flight when we unwatched
        }
        try {
            r.listener.changed(parts.get(0), parts.get(1));
        } catch (RuntimeException e) {
            log.error("watch listener for {} failed", r.path, e);
        }
    }

    private final class Handler extends SimpleChannelInboundHandler<XsMessage> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, XsMessage m) {
            if (m.type() == XsType.WATCH_EVENT.code()) {
                dispatchEvent(m);
                return;
            }
            Pending p = pending.remove(m.reqId());
            if (p == null) {
                log.warn("xenstored answered unknown request {}", m);
                return;
            }
            if (m.type() == XsType.ERROR.code()) {
                p.future.completeExceptionally(XsErrorException.of(XsError.parse(m.text()), p.what));
            } else {
                p.future.complete(m);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.warn("xenstore connection to {} failed: {}", socket, cause.toString());
            ctx.close();
        }
    }
}
