package io.tapdisk4j.safety.race;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.Extent;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
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
public final class LateConsumerDevice implements BlockDevice {

    private final BlockDevice inner;
    private final List<Kept> kept = new ArrayList<>();

    /** A write as the device first saw it: where it went and the buffer it came in. */
    private record Kept(long offset, ByteBuf buffer) {
    }

    /** What one late replay found. */
    public record Replay(long offset, int length, boolean useAfterUnmap, String error) {
    }

    public LateConsumerDevice(BlockDevice inner) {
        this.inner = inner;
    }

    public BlockDevice inner() {
        return inner;
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        // The retransmission queue's reference: taken before the device can release its own.
        ByteBuf mine = data.retainedDuplicate();
        synchronized (kept) {
            kept.add(new Kept(offset, mine));
        }
        return inner.write(offset, data, fua);
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
            inner.write(k.offset, copy, false).get(30, TimeUnit.SECONDS);
            out.add(new Replay(k.offset, length, false, null));
        }
        return out;
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
    public long size() {
        return inner.size();
    }

    @Override
    public int logicalBlockSize() {
        return inner.logicalBlockSize();
    }

    @Override
    public int physicalBlockSize() {
        return inner.physicalBlockSize();
    }

    @Override
    public Set<Capability> capabilities() {
        return inner.capabilities();
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return inner.read(offset, length);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return inner.flush();
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        return inner.discard(offset, length, secure);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        return inner.writeZeroes(offset, length, mayUnmap);
    }

    @Override
    public CompletableFuture<List<Extent>> allocation(long offset, long length) {
        return inner.allocation(offset, length);
    }

    @Override
    public void close() {
        discardKept();
        inner.close();
    }

    @Override
    public String describe() {
        return "late-consumer(" + inner.describe() + ")";
    }
}
