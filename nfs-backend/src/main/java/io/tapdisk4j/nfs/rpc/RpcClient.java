package io.tapdisk4j.nfs.rpc;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.nfs.xdr.XdrDecoder;
import io.tapdisk4j.nfs.xdr.XdrException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The ONC RPC client state machine over one stream connection: XIDs, many calls in flight, replies matched
 * by XID (unknown XIDs are dropped), retransmission with the same XID after a timeout, reconnection after the
 * connection breaks or a malformed record arrives (every call still waiting is sent again, same XID, so the
 * server's duplicate request cache can recognise it), and hard or soft failure semantics.
 *
 * <p>The encoded call (including any WRITE payload, a dom0 buffer) is kept until the call completes, so a
 * retransmission sends the same bytes and never touches memory the caller has since reused.
 *
 * <p>State is guarded by this object's monitor; futures are completed outside it.
 */
public final class RpcClient implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RpcClient.class);
    private static final long MIN_BACKOFF = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long MAX_BACKOFF = TimeUnit.SECONDS.toNanos(2);

    /** Decodes a procedure's results; may keep retained slices of the body. */
    @FunctionalInterface
    public interface ReplyParser<T> {
        T parse(XdrDecoder results) throws IOException;
    }

    private final String name;
    private final RpcConnector connector;
    private final RpcClientConfig config;
    private final ByteBufAllocator alloc;
    private final Map<Integer, Pending<?>> pending = new LinkedHashMap<>();
    private final ScheduledFuture<?> ticker;
    private Channel channel;
    private boolean connecting;
    private boolean closed;
    private int nextXid = ThreadLocalRandom.current().nextInt();
    private long nextConnectAt;
    private long backoff;
    private int timeoutsOnChannel;
    private boolean channelMalformed;
    private long retransmissions;
    private long droppedReplies;
    private long connects;

    private static final class Pending<T> {
        final int xid;
        final ByteBuf message;
        final ReplyParser<T> parser;
        final CompletableFuture<T> future = new CompletableFuture<>();
        final long createdAt;
        long sentAt;
        Channel sentOn;
        int malformed;

        Pending(int xid, ByteBuf message, ReplyParser<T> parser, long now) {
            this.xid = xid;
            this.message = message;
            this.parser = parser;
            this.createdAt = now;
        }
    }

    /**
     * {@code timer}: where the periodic timeout check runs (null: the owner calls {@link #checkTimeouts()},
     * as tests with a fake clock do).
     */
    public RpcClient(String name, RpcConnector connector, RpcClientConfig config, ByteBufAllocator alloc,
                     EventExecutor timer) {
        this.name = name;
        this.connector = connector;
        this.config = config;
        this.alloc = alloc;
        if (timer != null) {
            long tick = Math.clamp(config.timeout().toMillis() / 4, 10, 100);
            this.ticker = timer.scheduleAtFixedRate(this::checkTimeouts, tick, tick, TimeUnit.MILLISECONDS);
        } else {
            this.ticker = null;
        }
    }

    public RpcClientConfig config() {
        return config;
    }

    /** Calls a procedure. Takes over {@code args}' reference (released when the call completes). */
    public <T> CompletableFuture<T> call(int program, int version, int procedure, RpcAuth auth, ByteBuf args,
                                         ReplyParser<T> parser) {
        Pending<T> p;
        synchronized (this) {
            if (closed) {
                args.release();
                return CompletableFuture.failedFuture(new RpcException(BlockError.ESHUTDOWN, name + ": client closed"));
            }
            int xid = nextXid++;
            ByteBuf msg = RpcCall.encode(alloc, xid, program, version, procedure, auth, args);
            p = new Pending<>(xid, msg, parser, config.clock().getAsLong());
            pending.put(xid, p);
            if (channel != null) {
                send(p, channel);
            } else {
                ensureConnected();
            }
        }
        return p.future;
    }

    private void send(Pending<?> p, Channel ch) {
        p.sentAt = config.clock().getAsLong();
        p.sentOn = ch;
        ch.writeAndFlush(p.message.retainedDuplicate(), ch.voidPromise());
    }

    private void ensureConnected() {
        if (closed || channel != null || connecting || pending.isEmpty()) {
            return;
        }
        if (config.clock().getAsLong() - nextConnectAt < 0) {
            return; // backing off; the next timeout check tries again
        }
        connecting = true;
        ChannelFuture f;
        try {
            f = connector.connect(new ChannelInitializer<>() {
                @Override
                protected void initChannel(Channel ch) {
                    ch.pipeline().addLast("records", new RecordMarkingDecoder(config.maxRecordSize()));
                    ch.pipeline().addLast("replies", new RpcReplyDecoder());
                    ch.pipeline().addLast("recordMarks", RecordMarkingEncoder.INSTANCE);
                    ch.pipeline().addLast("client", new Handler());
                }
            });
        } catch (RuntimeException e) {
            connecting = false;
            connectFailed(e);
            return;
        }
        f.addListener((ChannelFuture cf) -> connected(cf));
    }

    private void connected(ChannelFuture cf) {
        synchronized (this) {
            connecting = false;
            if (!cf.isSuccess()) {
                connectFailed(cf.cause());
                return;
            }
            Channel ch = cf.channel();
            if (closed) {
                ch.close();
                return;
            }
            if (!ch.isActive()) {
                return; // closed again at once; channelInactive handles it
            }
            channel = ch;
            connects++;
            backoff = 0;
            timeoutsOnChannel = 0;
            channelMalformed = false;
            if (connects > 1) {
                LOG.info("{}: reconnected, sending {} outstanding call(s) again", name, pending.size());
            }
            for (Pending<?> p : pending.values()) {
                send(p, ch);
            }
        }
    }

    private void connectFailed(Throwable cause) {
        backoff = Math.clamp(backoff * 2, MIN_BACKOFF, MAX_BACKOFF);
        nextConnectAt = config.clock().getAsLong() + backoff;
        LOG.warn("{}: connection failed ({}), retrying in {} ms", name, cause.toString(),
                TimeUnit.NANOSECONDS.toMillis(backoff));
    }

    /** Retransmits calls whose reply is overdue, fails soft calls past their deadline, reconnects. */
    public void checkTimeouts() {
        List<Pending<?>> expired = new ArrayList<>();
        synchronized (this) {
            if (closed) {
                return;
            }
            long now = config.clock().getAsLong();
            long timeout = config.timeout().toNanos();
            boolean retransmitted = false;
            for (var it = pending.values().iterator(); it.hasNext(); ) {
                Pending<?> p = it.next();
                if (!config.hard() && now - p.createdAt > config.softDeadline().toNanos()) {
                    it.remove();
                    expired.add(p);
                    continue;
                }
                if (channel != null && p.sentOn == channel && now - p.sentAt > timeout) {
                    retransmissions++;
                    retransmitted = true;
                    LOG.warn("{}: no reply to xid {} within {} ms, sending it again", name,
                            Integer.toUnsignedString(p.xid), config.timeout().toMillis());
                    send(p, channel);
                }
            }
            if (retransmitted && ++timeoutsOnChannel > config.timeoutsBeforeReconnect() && channel != null) {
                LOG.warn("{}: connection silent through {} retransmission rounds, reconnecting", name,
                        config.timeoutsBeforeReconnect());
                channel.close();
            }
            ensureConnected();
        }
        for (Pending<?> p : expired) {
            LOG.error("{}: soft mount: giving up on xid {} after {} ms without a reply; the request fails with ETIMEDOUT",
                    name, Integer.toUnsignedString(p.xid), config.softDeadline().toMillis());
            p.message.release();
            p.future.completeExceptionally(new RpcException(BlockError.ETIMEDOUT,
                    name + ": no reply within " + config.softDeadline().toMillis() + " ms (soft mount)"));
        }
    }

    private void received(Channel ch, RpcReply reply) {
        Pending<?> p;
        synchronized (this) {
            p = pending.remove(reply.xid());
            if (p == null) {
                droppedReplies++;
                LOG.debug("{}: dropping reply with unknown xid {}", name, Integer.toUnsignedString(reply.xid()));
                reply.release();
                return;
            }
            if (ch == channel) {
                timeoutsOnChannel = 0;
            }
        }
        try {
            complete(p, reply);
        } finally {
            reply.release();
        }
    }

    private <T> void complete(Pending<T> p, RpcReply reply) {
        if (reply.status() != RpcReply.Status.SUCCESS) {
            p.message.release();
            BlockError e = reply.status() == RpcReply.Status.AUTH_ERROR ? BlockError.EACCES : BlockError.EIO;
            p.future.completeExceptionally(new RpcException(e, name + ": call " + Integer.toUnsignedString(p.xid)
                    + " failed: " + reply.describeFailure()));
            return;
        }
        T result;
        try {
            result = p.parser.parse(new XdrDecoder(reply.body()));
        } catch (XdrException e) {
            malformed(p, e);
            return;
        } catch (IOException | RuntimeException e) {
            p.message.release();
            p.future.completeExceptionally(e);
            return;
        }
        p.message.release();
        if (!p.future.complete(result) && result instanceof io.netty.util.ReferenceCounted rc) {
            rc.release();
        }
    }

    /** A reply whose results do not parse: the stream cannot be trusted; reconnect and ask again. */
    private void malformed(Pending<?> p, XdrException e) {
        boolean give;
        synchronized (this) {
            give = ++p.malformed > config.maxMalformed() || closed;
            if (!give) {
                pending.put(p.xid, p);
                p.sentOn = null;
                LOG.warn("{}: malformed reply to xid {} ({}), reconnecting", name, Integer.toUnsignedString(p.xid),
                        e.getMessage());
                if (channel != null) {
                    channel.close();
                }
            }
        }
        if (give) {
            p.message.release();
            p.future.completeExceptionally(new RpcException(BlockError.EIO, name + ": malformed reply to xid "
                    + Integer.toUnsignedString(p.xid) + ": " + e.getMessage()));
        }
    }

    private void inactive(Channel ch) {
        List<Pending<?>> failed = new ArrayList<>();
        synchronized (this) {
            if (ch != channel) {
                return;
            }
            channel = null;
            if (channelMalformed) {
                for (var it = pending.values().iterator(); it.hasNext(); ) {
                    Pending<?> p = it.next();
                    if (p.sentOn == ch && ++p.malformed > config.maxMalformed()) {
                        it.remove();
                        failed.add(p);
                    }
                }
            }
            if (!closed) {
                LOG.warn("{}: connection closed with {} call(s) outstanding", name, pending.size());
                ensureConnected();
            }
        }
        for (Pending<?> p : failed) {
            p.message.release();
            p.future.completeExceptionally(new RpcException(BlockError.EIO,
                    name + ": server keeps sending malformed records"));
        }
    }

    private void failedStream(Channel ch, Throwable cause) {
        boolean malformed = cause instanceof io.netty.handler.codec.DecoderException;
        synchronized (this) {
            if (ch == channel && malformed) {
                channelMalformed = true;
            }
        }
        LOG.warn("{}: closing connection after {}: {}", name, malformed ? "a bad record" : "an error", cause.toString());
        ch.close();
    }

    private final class Handler extends SimpleChannelInboundHandler<RpcReply> {
        Handler() {
            super(RpcReply.class, false);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, RpcReply reply) {
            received(ctx.channel(), reply);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            inactive(ctx.channel());
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            failedStream(ctx.channel(), cause);
        }
    }

    public synchronized long retransmissions() {
        return retransmissions;
    }

    public synchronized long droppedReplies() {
        return droppedReplies;
    }

    public synchronized long connects() {
        return connects;
    }

    public synchronized int outstanding() {
        return pending.size();
    }

    /** The event loop of the current connection (null while disconnected). */
    public synchronized io.netty.channel.EventLoop eventLoop() {
        return channel == null ? null : channel.eventLoop();
    }

    public synchronized boolean connected() {
        return channel != null;
    }

    /** Fails every outstanding call with ESHUTDOWN and closes the connection. */
    @Override
    public void close() {
        List<Pending<?>> all;
        Channel ch;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            all = new ArrayList<>(pending.values());
            pending.clear();
            ch = channel;
            channel = null;
        }
        if (ticker != null) {
            ticker.cancel(false);
        }
        if (ch != null) {
            var closing = ch.close();
            if (!ch.eventLoop().inEventLoop()) {
                closing.awaitUninterruptibly(5, TimeUnit.SECONDS);
            }
        }
        for (Pending<?> p : all) {
            p.message.release();
            p.future.completeExceptionally(new RpcException(BlockError.ESHUTDOWN, name + ": client closed"));
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
