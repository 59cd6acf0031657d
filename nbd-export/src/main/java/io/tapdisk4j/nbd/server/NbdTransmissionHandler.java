package io.tapdisk4j.nbd.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.FileRegion;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.EventExecutor;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockStatus;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.FileRegionReads;
import io.tapdisk4j.nbd.NbdChunk;
import io.tapdisk4j.nbd.NbdProtocol;
import io.tapdisk4j.nbd.NbdRegionReply;
import io.tapdisk4j.nbd.NbdRequest;
import io.tapdisk4j.nbd.NbdSimpleReply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static io.tapdisk4j.nbd.NbdProtocol.*;

/**
 * Serves transmission requests on one connection against one export. Requests run concurrently on the
 * device; replies go out in completion order. Replies are written without flushing and flushed once per
 * batch: at the end of a socket read, or after the replies that completed off the event loop meanwhile.
 * Outstanding requests and payload bytes are bounded: past the limits the server stops reading the
 * socket until replies drain (which also bounds what a client that never reads replies can cost).
 *
 * <p>A READ of a device that offers {@link FileRegionReads} is answered, when the device has the range in
 * its page cache and the connection has no TLS, with a file region the kernel sends itself: no read into a
 * buffer, no copy through user memory, and no buffer held while the reply waits for the socket.
 */
public final class NbdTransmissionHandler extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(NbdTransmissionHandler.class);
    private static final int KNOWN_FLAGS = CMD_FLAG_FUA | CMD_FLAG_NO_HOLE | CMD_FLAG_DF | CMD_FLAG_REQ_ONE | CMD_FLAG_FAST_ZERO;
    /** At most this many base:allocation descriptors per reply (the spec's suggested bound is 2^20). */
    private static final int MAX_DESCRIPTORS = 1 << 16;
    /**
     * Reads from this size up go out as file regions. Below it the copy costs less than the region does:
     * the header and a small payload leave in one writev with their neighbours, where a region needs a
     * sendfile of its own (and the device a cachestat to check the range is cached).
     */
    static final int REGION_MIN = Integer.getInteger("tapdisk4j.nbd.regionMin", 64 * 1024);

    private final NbdExport export;
    private final BlockDevice device;
    private final NbdServerLimits limits;
    private final boolean structured;
    /** The meta contexts SET_META_CONTEXT selected; a context's id is its index + 1. */
    private final List<String> contexts;
    /** The device's file regions, when it has them and the transport can send them (not through TLS). */
    private final FileRegionReads regions;

    private ChannelHandlerContext ctx;
    private Channel channel;
    private EventExecutor loop;
    private int inFlight;
    private long inFlightBytes;
    private boolean reading;
    private boolean flushScheduled;
    private boolean disconnecting;
    private boolean paused;
    /**
     * Requests already read from the socket while the connection is over its limits. One socket read can
     * hold thousands of 28-byte READ requests; serving them all at once would buffer gigabytes of replies
     * for a client that does not read. They wait here (their own bytes only) until the window reopens.
     */
    private final java.util.ArrayDeque<NbdRequest> waiting = new java.util.ArrayDeque<>();
    /** Set while {@link #updateReading} serves waiting requests, so replies completing inline do not recurse. */
    private boolean draining;
    private final Runnable flushTask = this::scheduledFlush;
    /**
     * Replies completed off the event loop (a file device completes on its I/O threads). They queue here and
     * one task drains them all and flushes once: one wake-up of the event loop per burst, not per reply.
     */
    private final java.util.Queue<Object[]> completed = io.netty.util.internal.PlatformDependent.newMpscQueue();
    private final java.util.concurrent.atomic.AtomicBoolean drainScheduled = new java.util.concurrent.atomic.AtomicBoolean();
    private final Runnable drainTask = this::drainCompleted;

    /**
     * @param zeroCopy whether replies may carry file regions: false when a TLS handler must see every byte
     */
    public NbdTransmissionHandler(NbdExport export, NbdServerLimits limits, boolean structured, List<String> contexts,
                                  boolean zeroCopy) {
        this.export = export;
        this.device = export.device();
        this.limits = limits;
        this.structured = structured;
        this.contexts = List.copyOf(contexts);
        this.regions = zeroCopy && device instanceof FileRegionReads z ? z : null;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.channel = ctx.channel();
        this.loop = ctx.executor();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof NbdRequest r)) {
            ReferenceCountUtil.release(msg);
            log.warn("{}: unexpected {} in transmission, closing", channel.remoteAddress(), msg);
            ctx.close();
            return;
        }
        reading = true;
        if (disconnecting) {
            r.release(); // nothing after DISC is served
            return;
        }
        if (paused || !waiting.isEmpty()) {
            waiting.add(r);
            return;
        }
        serve(r);
    }

    private void serve(NbdRequest r) {
        try {
            dispatch(r);
        } catch (RuntimeException e) {
            r.release();
            log.warn("{}: {} failed: {}", channel.remoteAddress(), r, e.toString());
            started(r.length());
            finish(errorReply(r, EIO, e.toString()), r.length());
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        NbdRequest r;
        while ((r = waiting.poll()) != null) {
            r.release();
        }
        super.channelInactive(ctx);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        reading = false;
        ctx.flush();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        updateReading();
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.info("{}: closing: {}", channel.remoteAddress(), cause.toString());
        ctx.close();
    }

    private void dispatch(NbdRequest r) {
        long offset = r.offset();
        long length = r.length();
        long size = device.size();
        if ((r.flags() & ~KNOWN_FLAGS) != 0) {
            reject(r, EINVAL, "unknown command flags 0x" + Integer.toHexString(r.flags()));
            return;
        }
        switch (r.type()) {
            case CMD_DISC -> {
                disconnecting = true;
                if (inFlight == 0) {
                    ctx.flush();
                    ctx.close();
                }
            }
            case CMD_READ -> {
                if (length > limits.maxPayload()) {
                    reject(r, structured ? EOVERFLOW : EINVAL, "read of " + length + " bytes exceeds the maximum payload");
                } else if (outOfRange(offset, length, size)) {
                    reject(r, EINVAL, "read beyond the end of the export");
                } else if (length == 0) {
                    reply(r, 0);
                } else if (!readRegion(r, offset, (int) length)) {
                    started(length);
                    device.read(offset, (int) length).whenComplete((data, err) -> {
                        if (err != null) {
                            finish(errorReply(r, errno(err), err.getMessage()), length);
                        } else if (structured) {
                            finish(NbdChunk.offsetData(r.cookie(), offset, data, true), length);
                        } else {
                            finish(new NbdSimpleReply(r.cookie(), 0, data), length);
                        }
                    });
                }
            }
            case CMD_WRITE -> {
                if (r.payloadDiscarded()) {
                    reject(r, EINVAL, "write of " + length + " bytes exceeds the maximum payload");
                } else if (!export.writable()) {
                    reject(r, EPERM, "export is read-only");
                } else if (outOfRange(offset, length, size)) {
                    reject(r, ENOSPC, "write beyond the end of the export");
                } else if (length == 0) {
                    r.release();
                    reply(r, 0);
                } else {
                    started(length);
                    ByteBuf data = r.data();
                    complete(r, device.write(offset, data, r.has(CMD_FLAG_FUA)), length);
                }
            }
            case CMD_FLUSH -> {
                if (!export.writable()) {
                    reply(r, 0);
                } else {
                    started(0);
                    complete(r, device.flush(), 0);
                }
            }
            case CMD_TRIM -> {
                if (!export.writable()) {
                    reject(r, EPERM, "export is read-only");
                } else if (outOfRange(offset, length, size)) {
                    reject(r, EINVAL, "trim beyond the end of the export");
                } else if (length == 0 || !device.has(Capability.DISCARD)) {
                    reply(r, 0); // trimming is advisory
                } else {
                    started(0);
                    complete(r, device.discard(offset, length, false), 0);
                }
            }
            case CMD_WRITE_ZEROES -> {
                if (!export.writable()) {
                    reject(r, EPERM, "export is read-only");
                } else if (outOfRange(offset, length, size)) {
                    reject(r, ENOSPC, "write zeroes beyond the end of the export");
                } else if (r.has(CMD_FLAG_FAST_ZERO) && !device.has(Capability.WRITE_ZEROES)) {
                    reject(r, ENOTSUP, "this device cannot zero quickly");
                } else if (length == 0) {
                    reply(r, 0);
                } else {
                    started(0);
                    complete(r, device.writeZeroes(offset, length, !r.has(CMD_FLAG_NO_HOLE)), 0);
                }
            }
            case CMD_CACHE -> {
                // Nothing to prefetch into: the device's own cache (the page cache, a format's cache) decides.
                if (outOfRange(offset, length, size)) {
                    reject(r, EINVAL, "cache beyond the end of the export");
                } else {
                    reply(r, 0);
                }
            }
            case CMD_BLOCK_STATUS -> blockStatus(r, offset, length, size);
            default -> reject(r, EINVAL, "unknown command " + r.type());
        }
    }

    /** Answers a READ with a file region when the device has one for the range now; false otherwise. */
    private boolean readRegion(NbdRequest r, long offset, int length) {
        if (regions == null || length < REGION_MIN) {
            return false;
        }
        FileRegion region = regions.readRegion(offset, length);
        if (region == null) {
            return false;
        }
        started(length);
        finish(new NbdRegionReply(r.cookie(), offset, region, structured), length);
        return true;
    }

    private void blockStatus(NbdRequest r, long offset, long length, long size) {
        if (!structured || contexts.isEmpty()) {
            reject(r, EINVAL, "no meta context was negotiated");
            return;
        }
        if (outOfRange(offset, length, size) || length == 0) {
            reject(r, EINVAL, "block status beyond the end of the export");
            return;
        }
        started(0);
        boolean one = r.has(CMD_FLAG_REQ_ONE);
        List<CompletableFuture<List<BlockStatus>>> parts = new ArrayList<>(contexts.size());
        for (String c : contexts) {
            parts.add(NbdMetaContexts.status(device, c, offset, length));
        }
        CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).whenComplete((v, err) -> {
            if (err != null) {
                finish(errorReply(r, errno(err), err.getMessage()), 0);
                return;
            }
            // One chunk per context, in id order; the last carries DONE.
            List<NbdChunk> chunks = new ArrayList<>(parts.size());
            for (int i = 0; i < parts.size(); i++) {
                List<BlockStatus> out = NbdMetaContexts.descriptors(parts.get(i).join(), offset, length, one, MAX_DESCRIPTORS);
                if (out.isEmpty()) {
                    chunks.forEach(NbdChunk::release);
                    finish(errorReply(r, EIO, "meta context " + contexts.get(i) + " reported nothing"), 0);
                    return;
                }
                chunks.add(NbdChunk.blockStatusRuns(r.cookie(), i + 1, out, i == parts.size() - 1));
            }
            finish(chunks.size() == 1 ? chunks.getFirst() : new ChunkSequence(chunks), 0);
        });
    }

    /** Several chunks answering one request, written in order. */
    record ChunkSequence(List<NbdChunk> chunks) {
    }

    private static boolean outOfRange(long offset, long length, long size) {
        return offset < 0 || offset > size || length > size - offset;
    }

    private void complete(NbdRequest r, CompletableFuture<Void> f, long bytes) {
        f.whenComplete((v, err) -> finish(err == null ? NbdSimpleReply.ok(r.cookie())
                : errorReply(r, errno(err), err.getMessage()), bytes));
    }

    private static int errno(Throwable err) {
        return NbdProtocol.errno(BlockDeviceException.errorOf(err));
    }

    private Object errorReply(NbdRequest r, int errno, String message) {
        if (structured && (r.type() == CMD_READ || r.type() == CMD_BLOCK_STATUS)) {
            return NbdChunk.error(r.cookie(), errno, message, true);
        }
        return NbdSimpleReply.error(r.cookie(), errno);
    }

    private void reject(NbdRequest r, int errno, String why) {
        r.release();
        log.debug("{}: {} refused ({}): {}", channel.remoteAddress(), r, errno, why);
        started(0);
        finish(errorReply(r, errno, why), 0);
    }

    /** An immediate success with no data (a zero-length READ gets an empty reply, as qemu-nbd does). */
    private void reply(NbdRequest r, int unused) {
        started(0);
        if (structured && r.type() == CMD_READ) {
            finish(NbdChunk.none(r.cookie()), 0);
        } else {
            finish(NbdSimpleReply.ok(r.cookie()), 0);
        }
    }

    private void started(long bytes) {
        inFlight++;
        inFlightBytes += bytes;
        updateReading();
    }

    /** Sends a reply from any thread: on the event loop, write now and flush with the batch. */
    private void finish(Object reply, long bytes) {
        if (loop.inEventLoop()) {
            send(reply, bytes);
        } else {
            completed.offer(new Object[] {reply, bytes});
            if (drainScheduled.compareAndSet(false, true)) {
                loop.execute(drainTask);
            }
        }
    }

    private void drainCompleted() {
        drainScheduled.set(false);
        boolean wasReading = reading;
        reading = true; // suppress per-reply flush scheduling: one flush below
        try {
            Object[] c;
            while ((c = completed.poll()) != null) {
                send(c[0], (Long) c[1]);
            }
        } finally {
            reading = wasReading;
        }
        if (channel.isActive() && !wasReading) {
            ctx.flush();
        }
    }

    private void send(Object reply, long bytes) {
        inFlight--;
        inFlightBytes -= bytes;
        if (!channel.isActive()) {
            release(reply); // the client went away: the reply's buffers go back to the pool
        } else {
            if (reply instanceof ChunkSequence seq) {
                seq.chunks().forEach(c -> ctx.write(c, ctx.voidPromise()));
            } else {
                ctx.write(reply, ctx.voidPromise());
            }
            if (!reading && !flushScheduled) {
                flushScheduled = true;
                loop.execute(flushTask);
            }
        }
        if (disconnecting && inFlight == 0) {
            ctx.flush();
            ctx.close();
            return;
        }
        updateReading();
    }

    private void scheduledFlush() {
        flushScheduled = false;
        ctx.flush();
    }

    private static void release(Object reply) {
        switch (reply) {
            case NbdChunk c -> c.release();
            case ChunkSequence seq -> seq.chunks().forEach(NbdChunk::release);
            case NbdSimpleReply s -> s.release();
            case NbdRegionReply g -> g.release();
            default -> ReferenceCountUtil.release(reply);
        }
    }

    private boolean overLimits() {
        return inFlight >= limits.maxInFlight() || inFlightBytes >= limits.maxInFlightBytes() || !channel.isWritable();
    }

    private void updateReading() {
        if (draining) {
            return; // the loop below re-checks the limits after every request
        }
        boolean over = overLimits();
        if (!over && !waiting.isEmpty()) {
            // Serve what was read while paused before reading more, in order, until the limits bite again.
            draining = true;
            try {
                NbdRequest r;
                while (!overLimits() && !disconnecting && (r = waiting.poll()) != null) {
                    serve(r);
                }
            } finally {
                draining = false;
            }
            over = overLimits() || !waiting.isEmpty();
        }
        if (over != paused) {
            paused = over;
            channel.config().setAutoRead(!over);
        }
    }
}
