package io.tapdisk4j.block.cbt;

import io.netty.buffer.ByteBuf;
import io.netty.channel.FileRegion;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.BlockStatus;
import io.tapdisk4j.block.DirtyBitmap;
import io.tapdisk4j.block.FileRegionReads;
import io.tapdisk4j.block.ForwardingBlockDevice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Records the 64 KiB blocks every write, write-zeroes and discard touches in the image's changed-block log.
 *
 * <h2>Crash semantics</h2>
 * Opening marks the log inconsistent on stable storage before any write is let through; only a clean close
 * restores the flag it had. A process that dies (SIGKILL, a crash, a host reset) therefore always leaves
 * an inconsistent log, and the next backup must be a full one, as XenServer defines it.
 *
 * <h2>Cost</h2>
 * A write whose blocks are all marked already passes straight through: one plain load of the bitmap word
 * in memory, no lock, no allocation. The first write to a clean block stores its bitmap word into the log
 * ({@link OpenLog#store}) before the write goes down: into a shared mapping of a local log (in the page
 * cache at once, which outlives the process), or a stable write to a log on the image's storage, waited
 * for. No write is acknowledged with its bit only in this process's memory. Flushes and FUA writes msync a
 * local log first when it has changed since the last sync, so a flushed write's bit is on stable storage.
 */
public final class ChangeTrackingDevice extends ForwardingBlockDevice implements FileRegionReads {

    private static final Logger log = LoggerFactory.getLogger(ChangeTrackingDevice.class);
    private static final int BLOCK_SHIFT = Integer.numberOfTrailingZeros(CbtLog.BLOCK_SIZE);

    private final OpenLog logFile;
    private final long coveredSize;
    /** Bits stored into the log and done (in its file, at least in the page cache): writes to them skip the log. */
    private final AtomicLongArray bits;
    /** Bits asked of the log, done or in flight; guarded by {@link #lock}. */
    private final long[] requested;
    private final Object lock = new Object();
    /** The flag a clean close writes back: a log that was inconsistent when opened stays so. */
    private volatile boolean consistentOnClose;
    private boolean closed;
    private final DirtyBitmap bitmap = new Bitmap();

    ChangeTrackingDevice(BlockDevice delegate, OpenLog logFile) {
        super(delegate);
        this.logFile = logFile;
        CbtLog current = logFile.opened();
        this.coveredSize = current.size();
        this.consistentOnClose = current.consistent();
        long[] words = current.bits().toLongArray();
        this.requested = new long[(int) ((CbtLog.blocks(coveredSize) + 63) / 64)];
        System.arraycopy(words, 0, requested, 0, Math.min(words.length, requested.length));
        this.bits = new AtomicLongArray(requested);
    }

    /** Opens the local log at {@code file} for {@code device}, marking it inconsistent until {@link #close}. */
    public static ChangeTrackingDevice open(BlockDevice device, Path file) throws IOException {
        return open(device, new CbtLogFile.Local(file));
    }

    /** Opens {@code file} for {@code device}, marking it inconsistent until {@link #close}. */
    public static ChangeTrackingDevice open(BlockDevice device, CbtLogFile file) throws IOException {
        CbtLog current = file.read();
        if (current.size() != device.size()) {
            throw new BlockDeviceException(BlockError.EINVAL, "changed-block log " + file + " covers " + current.size()
                    + " bytes but " + device.describe() + " has " + device.size()
                    + ": disable and enable tracking again (the next backup is then a full one)");
        }
        return new ChangeTrackingDevice(device, file.openForTracking());
    }

    public String logFile() {
        return logFile.describe();
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        if (marked(offset, data.readableBytes())) { // the common case: nothing to record
            return fua && logFile.unsynced() ? logFile.sync().thenCompose(v -> delegate.write(offset, data, true))
                    : delegate.write(offset, data, fua);
        }
        CompletableFuture<Void> recorded = mark(offset, data.readableBytes());
        if (recorded == null) {
            return fua && logFile.unsynced() ? logFile.sync().thenCompose(v -> delegate.write(offset, data, true))
                    : delegate.write(offset, data, fua);
        }
        return recorded.handle((v, t) -> {
            if (t != null) {
                data.release();
                return CompletableFuture.<Void>failedFuture(BlockDeviceException.unwrap(t));
            }
            return delegate.write(offset, data, fua);
        }).thenCompose(f -> f);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        CompletableFuture<Void> recorded = marked(offset, length) ? null : mark(offset, length);
        return recorded == null ? delegate.writeZeroes(offset, length, mayUnmap)
                : recorded.thenCompose(v -> delegate.writeZeroes(offset, length, mayUnmap));
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        CompletableFuture<Void> recorded = marked(offset, length) ? null : mark(offset, length);
        return recorded == null ? delegate.discard(offset, length, secure)
                : recorded.thenCompose(v -> delegate.discard(offset, length, secure));
    }

    @Override
    public CompletableFuture<Void> flush() {
        return logFile.unsynced() ? logFile.sync().thenCompose(v -> delegate.flush()) : delegate.flush();
    }

    @Override
    public CompletableFuture<Void> resize(long newSize) {
        // The bitmap covers the old size only: the log can no longer say what changed.
        consistentOnClose = false;
        return delegate.resize(newSize);
    }

    @Override
    public List<DirtyBitmap> dirtyBitmaps() {
        return List.of(bitmap);
    }

    @Override
    public FileRegion readRegion(long offset, int length) {
        // Reads are not watched, so the delegate's file regions pass through unchanged.
        return delegate instanceof FileRegionReads r ? r.readRegion(offset, length) : null;
    }

    /**
     * Whether every block of {@code [offset, offset+length)} has its bit in the log already: for a write
     * within one bitmap word (any write up to 4 MiB that does not straddle a 4 MiB boundary) one plain
     * load, no lock, no allocation. False sends the write through {@link #mark}, which decides under the
     * lock (and handles the ranges this check does not). The acquire load pairs with the release in
     * {@link #done}: a set bit seen here means its store into the log happened before.
     */
    private boolean marked(long offset, long length) {
        if (length <= 0 || offset < 0 || offset > coveredSize - length) {
            return false;
        }
        long first = offset >>> BLOCK_SHIFT;
        long last = (offset + length - 1) >>> BLOCK_SHIFT;
        int w = (int) (first >>> 6);
        if (w == (int) (last >>> 6)) {
            long mask = (-1L << first) & (-1L >>> (63 - (last & 63))); // shifts take their count mod 64
            return (bits.getAcquire(w) & mask) == mask;
        }
        for (; w <= (int) (last >>> 6); w++) {
            long mask = wordMask(w, first, last);
            if ((bits.getAcquire(w) & mask) != mask) {
                return false;
            }
        }
        return true;
    }

    /**
     * Stores the bits of {@code [offset, offset+length)} into the log: null when done on return, else a
     * future completing when they are (failing, and condemning the log, when a store fails).
     */
    private CompletableFuture<Void> mark(long offset, long length) {
        if (length <= 0 || offset < 0 || offset > coveredSize - length) {
            // Nothing to mark: the device rejects the request (or, after a resize, the log is already
            // condemned to inconsistency by resize()); a hostile client cannot spoil the log this way.
            return null;
        }
        long first = offset >>> BLOCK_SHIFT;
        long last = (offset + length - 1) >>> BLOCK_SHIFT;
        List<CompletableFuture<Void>> pending = null;
        try {
            synchronized (lock) {
                if (closed) {
                    return CompletableFuture.failedFuture(new BlockDeviceException(BlockError.ESHUTDOWN,
                            describe() + " is closed"));
                }
                for (int w = (int) (first >>> 6); w <= (int) (last >>> 6); w++) {
                    long mask = wordMask(w, first, last);
                    if ((bits.getPlain(w) & mask) == mask) {
                        continue;
                    }
                    // Bits asked for but still in flight are asked again: the new store is chained after the
                    // old one, so its completion means both are done.
                    long now = requested[w] | mask;
                    requested[w] = now;
                    CompletableFuture<Void> f = logFile.store(w, now);
                    if (f == null) {
                        done(w, now);
                    } else {
                        int word = w;
                        (pending == null ? pending = new ArrayList<>() : pending).add(f.whenComplete((v, t) -> {
                            if (t == null) {
                                done(word, now);
                            } else {
                                failed(t);
                            }
                        }));
                    }
                }
            }
        } catch (RuntimeException | InternalError e) { // InternalError: SIGBUS, the log file was cut short under us
            return CompletableFuture.failedFuture(failed(e));
        }
        return pending == null ? null : CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new));
    }

    /** Only now may another write to these blocks skip the log. */
    private void done(int word, long value) {
        bits.accumulateAndGet(word, value, (a, b) -> a | b);
    }

    private BlockDeviceException failed(Throwable t) {
        consistentOnClose = false;
        log.warn("{}: cannot update changed-block log {}: {}", describe(), logFile.describe(), t.toString());
        return new BlockDeviceException(BlockError.EIO, "cannot update changed-block log " + logFile.describe() + ": "
                + BlockDeviceException.unwrap(t).getMessage());
    }

    private static long wordMask(int w, long first, long last) {
        long lo = Math.max(first, (long) w << 6) - ((long) w << 6);
        long hi = Math.min(last, ((long) w << 6) + 63) - ((long) w << 6);
        return (hi == 63 ? -1L : (1L << (hi + 1)) - 1) & (-1L << lo);
    }

    @Override
    public void close() {
        try {
            delegate.close();
        } finally {
            synchronized (lock) {
                closed = true;
                try {
                    logFile.close(consistentOnClose);
                } catch (IOException | RuntimeException e) {
                    log.warn("{}: changed-block log {} left inconsistent: {}", describe(), logFile.describe(), e.toString());
                }
            }
        }
    }

    private final class Bitmap implements DirtyBitmap {
        @Override
        public String name() {
            return "cbt";
        }

        @Override
        public int granularity() {
            return CbtLog.BLOCK_SIZE;
        }

        @Override
        public List<BlockStatus> status(long offset, long length) {
            return CbtBitmaps.runs(b -> b < CbtLog.blocks(coveredSize) && (bits.get((int) (b >>> 6)) & (1L << (b & 63))) != 0,
                    offset, length);
        }
    }
}
