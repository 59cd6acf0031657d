package io.tapdisk4j.nbd.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.nbd.NbdChunk;
import io.tapdisk4j.nbd.NbdClientDecoder;
import io.tapdisk4j.nbd.NbdProtocol;
import io.tapdisk4j.nbd.NbdRequest;
import io.tapdisk4j.nbd.NbdSimpleReply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.tapdisk4j.nbd.NbdProtocol.*;

/**
 * One transmission-phase connection of the client backend: sends requests under fresh cookies, matches
 * replies (simple or structured) to them, and when the connection dies hands every unanswered request
 * back to its owner for a retry elsewhere. A request older than its deadline fails with ETIMEDOUT and
 * the connection is dropped (a stalled server's late reply could not be told apart otherwise).
 */
final class NbdClientConnection extends ChannelInboundHandlerAdapter {

    interface Owner {
        /** The connection is gone; {@code unanswered} are the requests it still had (to retry or fail). */
        void lost(NbdClientConnection connection, List<NbdClientRequest> unanswered, Throwable cause);
    }

    private static final Logger log = LoggerFactory.getLogger(NbdClientConnection.class);

    final NbdSession session;
    private final Owner owner;
    private final Channel channel;
    private final EventExecutor loop;
    private final Map<Long, NbdClientRequest> pending = new HashMap<>();
    private ChannelHandlerContext ctx;
    private long nextCookie = 1;
    private boolean flushScheduled;
    private boolean lost;
    private volatile int inFlight;
    private ScheduledFuture<?> sweeper;
    private Throwable failure;

    NbdClientConnection(Channel channel, NbdSession session, Owner owner) {
        this.channel = channel;
        this.session = session;
        this.owner = owner;
        this.loop = channel.eventLoop();
    }

    int inFlight() {
        return inFlight;
    }

    boolean isUsable() {
        return !lost && channel.isActive();
    }

    Channel channel() {
        return channel;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        ctx.pipeline().get(NbdClientDecoder.class).enterTransmission(this::readLength);
        sweeper = loop.scheduleAtFixedRate(this::sweep, 200, 200, TimeUnit.MILLISECONDS);
    }

    private long readLength(long cookie) {
        NbdClientRequest r = pending.get(cookie);
        if (r == null) {
            return -1;
        }
        return r.type == CMD_READ ? r.length : 0;
    }

    /** Sends a request (from any thread). */
    void submit(NbdClientRequest r) {
        if (loop.inEventLoop()) {
            send(r);
        } else {
            loop.execute(() -> send(r));
        }
    }

    private void send(NbdClientRequest r) {
        if (lost || !channel.isActive()) {
            owner.lost(this, List.of(r), failure);
            return;
        }
        long cookie = nextCookie++;
        pending.put(cookie, r);
        inFlight = pending.size();
        r.attempts++;
        ByteBuf payload = r.data == null ? null : r.data.retainedDuplicate();
        ctx.write(new NbdRequest(r.flags, r.type, cookie, r.offset, r.length, payload, false), ctx.voidPromise());
        if (!flushScheduled) {
            flushScheduled = true;
            loop.execute(this::flushNow);
        }
    }

    private void flushNow() {
        flushScheduled = false;
        ctx.flush();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        switch (msg) {
            case NbdSimpleReply s -> simple(s);
            case NbdChunk c -> chunk(c);
            default -> {
                ReferenceCountUtil.release(msg);
                protocolError("unexpected " + msg);
            }
        }
    }

    private void simple(NbdSimpleReply s) {
        NbdClientRequest r = pending.remove(s.cookie());
        inFlight = pending.size();
        if (r == null) {
            s.release();
            protocolError("simple reply to unknown cookie " + s.cookie());
            return;
        }
        if (s.error() != 0) {
            s.release();
            r.fail(NbdProtocol.blockError(s.error()), "NBD server error " + s.error() + " on " + NbdProtocol.commandName(r.type));
        } else if (r.type == CMD_READ) {
            if (session.structuredReplies()) {
                s.release();
                r.fail(BlockError.EIO, "simple reply to a READ after structured replies were agreed");
                return;
            }
            r.succeed(s.data() == null ? io.tapdisk4j.block.Buffers.direct(0) : s.data());
        } else {
            r.succeed(null);
        }
    }

    private void chunk(NbdChunk c) {
        NbdClientRequest r = pending.get(c.cookie());
        if (r == null) {
            c.release();
            protocolError("structured reply to unknown cookie " + c.cookie());
            return;
        }
        boolean ok = true;
        ByteBuf head = c.head();
        switch (c.type()) {
            case REPLY_TYPE_OFFSET_DATA -> {
                long at = head.readLong();
                ok = r.type == CMD_READ && r.addData(at, c.data().retain());
            }
            case REPLY_TYPE_OFFSET_HOLE -> ok = r.type == CMD_READ && head.readableBytes() == 12
                    && r.addHole(head.readLong(), head.readUnsignedInt());
            case REPLY_TYPE_BLOCK_STATUS -> ok = r.type == CMD_BLOCK_STATUS && blockStatus(r, head);
            case REPLY_TYPE_NONE -> ok = head.readableBytes() == 0;
            default -> {
                if (c.isError()) {
                    if (head.readableBytes() >= 6 && r.errno == 0) {
                        r.errno = c.errorNumber();
                        r.errorMessage = c.errorMessage();
                    } else if (r.errno == 0) {
                        r.errno = EIO;
                    }
                } // unknown non-error chunk types are ignored, as the spec allows
            }
        }
        boolean done = c.done();
        c.release();
        if (!ok) {
            protocolError("malformed " + c.type() + " chunk for " + NbdProtocol.commandName(r.type));
            return;
        }
        if (done) {
            pending.remove(c.cookie());
            inFlight = pending.size();
            finishStructured(r);
        }
    }

    /**
     * One context's runs: the id must be one this connection agreed on, the wanted context may answer only
     * once, and other contexts' chunks (the server sends one per agreed context) are skipped.
     */
    private boolean blockStatus(NbdClientRequest r, ByteBuf head) {
        if (head.readableBytes() < 12) {
            return false;
        }
        int id = head.readInt();
        if (!session.metaContexts().containsValue(id)) {
            return false;
        }
        if (Integer.toUnsignedLong(id) != session.contextId(r.context)) {
            return true;
        }
        if (r.runs != null) {
            return false;
        }
        r.runs = NbdStatusDescriptors.parse(head, r.offset, r.length);
        return r.runs != null;
    }

    private void finishStructured(NbdClientRequest r) {
        if (r.errno != 0) {
            r.fail(NbdProtocol.blockError(r.errno), "NBD server error " + r.errno + " on " + NbdProtocol.commandName(r.type)
                    + (r.errorMessage == null || r.errorMessage.isEmpty() ? "" : ": " + r.errorMessage));
            return;
        }
        switch (r.type) {
            case CMD_READ -> {
                if (r.covered != r.length) {
                    r.fail(BlockError.EIO, "the server's reply covered " + r.covered + " of " + r.length + " bytes");
                } else {
                    ByteBuf d = r.readData;
                    r.readData = null;
                    r.succeed(d == null ? io.tapdisk4j.block.Buffers.direct(0) : d);
                }
            }
            case CMD_BLOCK_STATUS -> {
                if (r.runs == null) {
                    r.fail(BlockError.EIO, "the server sent no " + r.context + " status");
                } else {
                    r.succeed(r.runs);
                }
            }
            default -> r.succeed(null);
        }
    }

    private void protocolError(String why) {
        log.warn("NBD {}: protocol error, reconnecting: {}", channel.remoteAddress(), why);
        failure = new io.tapdisk4j.block.BlockDeviceException(BlockError.EIO, why);
        channel.close();
    }

    private void sweep() {
        if (pending.isEmpty()) {
            return;
        }
        long now = System.nanoTime();
        boolean expired = false;
        for (Iterator<NbdClientRequest> it = pending.values().iterator(); it.hasNext(); ) {
            NbdClientRequest r = it.next();
            if (now - r.deadlineNanos > 0) {
                it.remove();
                r.fail(BlockError.ETIMEDOUT, "NBD " + NbdProtocol.commandName(r.type) + " at " + r.offset
                        + " not answered in time by " + channel.remoteAddress());
                expired = true;
            }
        }
        inFlight = pending.size();
        if (expired) {
            log.warn("NBD {}: requests timed out; dropping the connection", channel.remoteAddress());
            channel.close();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        failure = cause;
        log.info("NBD {}: {}", channel.remoteAddress(), cause.toString());
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        lost = true;
        if (sweeper != null) {
            sweeper.cancel(false);
        }
        List<NbdClientRequest> unanswered = new ArrayList<>(pending.values());
        pending.clear();
        inFlight = 0;
        for (NbdClientRequest r : unanswered) {
            r.resetAttempt();
        }
        owner.lost(this, unanswered, failure);
        ctx.fireChannelInactive();
    }

    void close() {
        channel.close();
    }
}
