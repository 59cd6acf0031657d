package io.tapdisk4j.safety.race;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.ForwardingBlockDevice;
import io.tapdisk4j.block.Buffers;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The userspace model of a retransmission queued before a request completed: a device decorator that
 * keeps a reference to every buffer it is given to write, and after completion reads that buffer again
 * and sends what it finds to the storage once more ({@link #replayLate()}), as a stale retransmission
 * reaching the server would.
 *
 * <p>With dom0-owned buffers (copy, map-copy, persistent) the kept reference pins the bytes the guest
 * wrote when it issued the request, so the replay writes the same data again: harmless. With guest pages
 * handed to the device (unsafe-map) the replay carries whatever the guest wrote into the page since, or
 * fails because the page was unmapped (IllegalStateException from the closed arena): the race.
 */
public final class LateConsumerDevice extends ForwardingBlockDevice {

    private final List<Kept> kept = new ArrayList<>();
    private CompletableFuture<Void> nextWrite = new CompletableFuture<>();

    /**
     * A write as the device first saw it: where it went, the buffer it came in (retained), and raw views of
     * that buffer's memory taken without a reference (what a kernel retransmission queue holds: page
     * pointers, which a grant unmap does not wait for).
     */
    private record Kept(long offset, ByteBuf buffer, java.nio.ByteBuffer[] raw) {
    }

    /**
     * What one late replay found. {@code useAfterUnmap}: reading the buffer, or, once every reference was
     * given up, its raw memory, failed because the memory was unmapped.
     */
    public record Replay(long offset, int length, boolean useAfterUnmap, String error) {
    }

    public LateConsumerDevice(BlockDevice inner) {
        super(inner);
    }

    public BlockDevice inner() {
        return delegate;
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        // The retransmission queue's reference: taken before the device can release its own.
        ByteBuf mine = data.retainedDuplicate();
        java.nio.ByteBuffer[] raw = mine.nioBuffers();
        synchronized (kept) {
            kept.add(new Kept(offset, mine, raw));
        }
        CompletableFuture<Void> written = delegate.write(offset, data, fua);
        CompletableFuture<Void> seen;
        synchronized (kept) {
            seen = nextWrite;
            nextWrite = new CompletableFuture<>();
        }
        seen.complete(null);
        return written;
    }

    /**
     * Completes once the next write (from now) has been handed to the wrapped device, that is once the
     * device's write call returned: its request is then queued wherever that device queues requests.
     */
    public CompletableFuture<Void> nextWrite() {
        synchronized (kept) {
            return nextWrite;
        }
    }

    /** Writes kept but not yet replayed. */
    public int pending() {
        synchronized (kept) {
            return kept.size();
        }
    }

    /**
     * Reads every kept buffer now, after its request completed, writes what it saw to the storage again
     * (awaiting each), and releases the buffers. A buffer whose memory is gone counts as a use after unmap.
     */
    public List<Replay> replayLate() throws InterruptedException, ExecutionException, TimeoutException {
        List<Kept> now;
        synchronized (kept) {
            now = new ArrayList<>(kept);
            kept.clear();
        }
        List<Replay> out = new ArrayList<>(now.size());
        for (Kept k : now) {
            ByteBuf copy;
            int length = k.buffer.readableBytes();
            try {
                copy = Buffers.direct(length);
                try {
                    copy.writeBytes(k.buffer, k.buffer.readerIndex(), length);
                } catch (RuntimeException e) {
                    copy.release();
                    throw e;
                }
            } catch (IllegalStateException e) {
                // The mapping behind the buffer is closed: on Xen this is dom0 touching an unmapped page.
                out.add(new Replay(k.offset, length, true, e.toString()));
                releaseQuietly(k.buffer);
                continue;
            }
            releaseQuietly(k.buffer);
            delegate.write(k.offset, copy, false).get(30, TimeUnit.SECONDS);
            // Our reference is gone: if the memory was a mapping only the buffer kept alive, it is unmapped
            // now, and the raw views are what a retransmission queue would still point at.
            String unmapped = probeRaw(k.raw);
            out.add(new Replay(k.offset, length, unmapped != null, unmapped));
        }
        return out;
    }

    /** Reads one byte of every raw view: null when all are readable, the failure otherwise. */
    private static String probeRaw(java.nio.ByteBuffer[] raw) {
        for (java.nio.ByteBuffer b : raw) {
            if (!b.hasRemaining()) {
                continue;
            }
            try {
                b.get(b.position());
            } catch (IllegalStateException e) {
                return e.toString();
            }
        }
        return null;
    }

    /** Releases kept buffers without replaying them. */
    public void discardKept() {
        List<Kept> now;
        synchronized (kept) {
            now = new ArrayList<>(kept);
            kept.clear();
        }
        now.forEach(k -> releaseQuietly(k.buffer));
    }

    private static void releaseQuietly(ByteBuf b) {
        try {
            b.release();
        } catch (RuntimeException e) {
            // A buffer over an unmapped guest page may fail even to release; nothing more to free then.
        }
    }

    @Override
    public void close() {
        discardKept();
        delegate.close();
    }

    @Override
    public String describe() {
        return "late-consumer(" + delegate.describe() + ")";
    }
}
