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
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Records the 64 KiB blocks every write, write-zeroes and discard touches in the image's changed-block log.
 *
 * <h2>Crash semantics</h2>
 * Opening marks the log inconsistent on disk (fsync'd) before any write is let through; only a clean close
 * restores the flag it had. A process that dies (SIGKILL, a crash, a host reset) therefore always leaves
 * an inconsistent log, and the next backup must be a full one, as XenServer defines it.
 *
 * <h2>Cost</h2>
 * A write whose blocks are all marked already passes straight through (a few atomic reads). The first
 * write to a clean block stores the bitmap word holding its bit into the log file, mapped shared (as
 * blktap's log driver does): the store lands in the page cache, which outlives the process, with no system
 * call, before the write goes down. No write is acknowledged with its bit only in this process's memory.
 * Flushes and FUA writes msync the log first when it has changed since the last sync, so a flushed
 * write's bit is on stable storage too.
 */
public final class ChangeTrackingDevice extends ForwardingBlockDevice implements FileRegionReads {

    private static final Logger log = LoggerFactory.getLogger(ChangeTrackingDevice.class);
    private static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Log syncs leave the I/O threads to this pool: an fdatasync may take milliseconds. */
    private static final ExecutorService SYNCS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "cbt-sync");
        t.setDaemon(true);
        return t;
    });

    private final Path file;
    private final FileChannel channel;
    private final long coveredSize;
    private final long bitmapBytes;
    /** The bits written to the log file: a set bit is in the file (at least in the page cache). */
    private final AtomicLongArray bits;
    private final Object fileLock = new Object();
    /** The log's bitmap, mapped shared: a store here is in the page cache at once. */
    private final Arena arena;
    private final MemorySegment mapped;
    private volatile boolean unsynced;
    /** The flag a clean close writes back: a log that was inconsistent when opened stays so. */
    private volatile boolean consistentOnClose;
    private volatile boolean closed;
    private final DirtyBitmap bitmap = new Bitmap();

    private ChangeTrackingDevice(BlockDevice delegate, Path file, FileChannel channel, CbtLog current, Arena arena,
                                 MemorySegment mapped) {
        super(delegate);
        this.file = file;
        this.channel = channel;
        this.arena = arena;
        this.mapped = mapped;
        this.coveredSize = current.size();
        this.bitmapBytes = CbtLog.bitmapBytes(coveredSize);
        this.consistentOnClose = current.consistent();
        long[] words = current.bits().toLongArray();
        this.bits = new AtomicLongArray((int) ((CbtLog.blocks(coveredSize) + 63) / 64));
        for (int i = 0; i < words.length && i < bits.length(); i++) {
            bits.set(i, words[i]);
        }
    }

    /** Opens the log at {@code file} for {@code device}, marking it inconsistent until {@link #close}. */
    public static ChangeTrackingDevice open(BlockDevice device, Path file) throws IOException {
        CbtLog current = CbtLog.read(file);
        if (current.size() != device.size()) {
            throw new BlockDeviceException(BlockError.EINVAL, "changed-block log " + file + " covers " + current.size()
                    + " bytes but " + device.describe() + " has " + device.size()
                    + ": disable and enable tracking again (the next backup is then a full one)");
        }
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        Arena arena = Arena.ofShared();
        try {
            CbtLog.writeConsistent(ch, false);
            MemorySegment bitmap = ch.map(FileChannel.MapMode.READ_WRITE, CbtLog.HEADER_SIZE,
                    CbtLog.bitmapBytes(current.size()), arena);
            return new ChangeTrackingDevice(device, file, ch, current, arena, bitmap);
        } catch (IOException | RuntimeException e) {
            arena.close();
            ch.close();
            throw e;
        }
    }

    public Path logFile() {
        return file;
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        BlockDeviceException e = mark(offset, data.readableBytes());
        if (e != null) {
            data.release();
            return CompletableFuture.failedFuture(e);
        }
        if (fua && unsynced) {
            return syncLog().thenCompose(v -> delegate.write(offset, data, true));
        }
        return delegate.write(offset, data, fua);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        BlockDeviceException e = mark(offset, length);
        return e != null ? CompletableFuture.failedFuture(e) : delegate.writeZeroes(offset, length, mayUnmap);
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        BlockDeviceException e = mark(offset, length);
        return e != null ? CompletableFuture.failedFuture(e) : delegate.discard(offset, length, secure);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return unsynced ? syncLog().thenCompose(v -> delegate.flush()) : delegate.flush();
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

    /** Sets the bits of {@code [offset, offset+length)} in the log file; null on success. */
    private BlockDeviceException mark(long offset, long length) {
        if (length <= 0 || offset < 0 || offset > coveredSize - length) {
            // Nothing to mark: the device rejects the request (or, after a resize, the log is already
            // condemned to inconsistency by resize()); a hostile client cannot spoil the log this way.
            return null;
        }
        long first = offset / CbtLog.BLOCK_SIZE;
        long last = (offset + length - 1) / CbtLog.BLOCK_SIZE;
        if (allSet(first, last)) {
            return null;
        }
        try {
            synchronized (fileLock) {
                if (closed) {
                    return new BlockDeviceException(BlockError.ESHUTDOWN, describe() + " is closed");
                }
                for (int w = (int) (first >>> 6); w <= (int) (last >>> 6); w++) {
                    long mask = wordMask(w, first, last);
                    long old = bits.get(w);
                    if ((old | mask) == old) {
                        continue;
                    }
                    long now = old | mask;
                    long at = (long) w * 8;
                    if (at + 8 <= bitmapBytes) {
                        mapped.set(WORD, at, now);
                    } else {
                        for (long i = at; i < bitmapBytes; i++) { // the bitmap's last, partial word
                            mapped.set(ValueLayout.JAVA_BYTE, i, (byte) (now >>> (8 * (i - at))));
                        }
                    }
                    bits.set(w, now); // only now may another write to these blocks skip the log
                    unsynced = true;
                }
            }
            return null;
        } catch (RuntimeException | InternalError e) { // InternalError: SIGBUS, the log file was cut short under us
            consistentOnClose = false;
            log.warn("{}: cannot update changed-block log {}: {}", describe(), file, e.toString());
            return new BlockDeviceException(BlockError.EIO, "cannot update changed-block log " + file + ": " + e.getMessage());
        }
    }

    private static long wordMask(int w, long first, long last) {
        long lo = Math.max(first, (long) w << 6) - ((long) w << 6);
        long hi = Math.min(last, ((long) w << 6) + 63) - ((long) w << 6);
        return (hi == 63 ? -1L : (1L << (hi + 1)) - 1) & (-1L << lo);
    }

    private boolean allSet(long first, long last) {
        if (last >= CbtLog.blocks(coveredSize)) {
            return false;
        }
        for (int w = (int) (first >>> 6); w <= (int) (last >>> 6); w++) {
            long mask = wordMask(w, first, last);
            if ((bits.get(w) & mask) != mask) {
                return false;
            }
        }
        return true;
    }

    private CompletableFuture<Void> syncLog() {
        return CompletableFuture.runAsync(() -> {
            try {
                unsynced = false;
                mapped.force(); // outside the lock: an msync must not hold up first writes on the I/O threads
            } catch (IllegalStateException closedMeanwhile) {
                // close() synced the log itself
            } catch (RuntimeException e) {
                unsynced = true;
                throw new java.util.concurrent.CompletionException(new BlockDeviceException(BlockError.EIO,
                        "cannot sync changed-block log " + file + ": " + e.getMessage()));
            }
        }, SYNCS);
    }

    @Override
    public void close() {
        try {
            delegate.close();
        } finally {
            synchronized (fileLock) {
                closed = true;
                try {
                    mapped.force();
                    arena.close();
                    CbtLog.writeConsistent(channel, consistentOnClose);
                } catch (IOException e) {
                    log.warn("{}: changed-block log {} left inconsistent: {}", describe(), file, e.toString());
                } finally {
                    try {
                        channel.close();
                    } catch (IOException ignored) {
                        // the flag is written or the log stays inconsistent; nothing else to do
                    }
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
