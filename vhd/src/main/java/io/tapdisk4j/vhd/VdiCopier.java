package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.EarlyWriteback;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.RangeCopy;
import io.tapdisk4j.image.Io;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The data loop of {@code vdi copy}: reads what the source's allocation map says holds data, a few chunks in
 * flight, and writes it to the destination; between two local files the kernel copies instead.
 */
final class VdiCopier {

    /** Bytes per copy_file_range call: large, as no buffer holds them; small enough for progress and Ctrl-C. */
    static final long KERNEL_CHUNK = 64L << 20;
    /**
     * Bytes per read/write while copying, and requests in flight: 8 x 2 MiB, as qemu-img convert (8 coroutines,
     * 2 MiB buffers). Out of RBD into a file on tmpfs, 1 GiB, idle machine (2026-12-07, 3 alternating rounds):
     * 8 x 2 MiB 1.61-1.79 s, 8 x 1 MiB 1.99-2.20 s, 16 x 1 MiB 1.93-2.15 s, 8 x 4 MiB 1.74-1.86 s (qemu-img
     * 1.13-1.37 s). An earlier run under a load average of 15 had favoured 1 MiB (8 x 2 MiB 7.1-10.5 s against
     * 5.5-6.1 s). 2 MiB buffers come from the pool's arenas (its thread caches stop at 1 MiB); 4 MiB ones each
     * take a whole pool chunk.
     */
    static final int COPY_CHUNK = 2 << 20;
    static final int DEPTH = 8;

    /** A chunk in flight: where it goes, and its write (or zeroing) completing. */
    private record Chunk(long offset, int length, CompletableFuture<Void> done) {
    }

    private VdiCopier() {
    }

    /**
     * Copies all of {@code s} onto {@code d} and flushes {@code d}. Chunks that read as zeroes are not written to
     * a new image and are written as zeroes onto an {@code existing} one.
     */
    static void copy(BlockDevice s, BlockDevice d, boolean existing, String dst, VdiProgress progress)
            throws IOException {
        long total = s.size();
        progress.update("copy", 0, total);
        ArrayDeque<Chunk> inFlight = new ArrayDeque<>();
        // Into a local file, each chunk that is done goes to the disk at once (sync_file_range), while the copy
        // reads on: otherwise the page cache took the whole copy and the final flush wrote it all at the end,
        // after the reading was over.
        EarlyWriteback writeback = d instanceof EarlyWriteback w ? w : null;
        // Between two local raw files the kernel copies (copy_file_range): no bytes through this process.
        boolean kernelCopy = s instanceof RangeCopy;
        for (long pos = 0; pos < total; ) {
            List<Extent> map = allocationOf(s, pos, Math.min(total - pos, 1L << 30));
            for (Extent e : map) {
                for (long off = e.offset(); off < e.end(); off += COPY_CHUNK) {
                    if (progress.cancelled()) {
                        drain(inFlight);
                        d.flush().join();
                        throw new BlockDeviceException(BlockError.EIO, "copy interrupted at byte " + off
                                + "; " + dst + " is a valid image holding the data copied so far");
                    }
                    int n = (int) Math.min(COPY_CHUNK, e.end() - off);
                    long at = off;
                    if (kernelCopy && !e.zero()) {
                        long big = Math.min(KERNEL_CHUNK, e.end() - off);
                        if (((RangeCopy) s).copyRangeTo(d, at, big)) {
                            off += big - COPY_CHUNK; // the loop adds COPY_CHUNK
                            progress.update("copy", at + big, total);
                            continue;
                        }
                        kernelCopy = false;
                    }
                    CompletableFuture<Void> done;
                    if (e.zero()) {
                        if (!existing) {
                            break; // a new image reads zeroes there already
                        }
                        done = d.writeZeroes(at, n, true);
                    } else {
                        done = s.read(at, n).thenCompose(b -> {
                            if (Zeroes.all(b)) {
                                b.release();
                                return existing ? d.writeZeroes(at, n, true) : CompletableFuture.completedFuture(null);
                            }
                            return d.write(at, b, false);
                        });
                    }
                    inFlight.add(new Chunk(at, n, done));
                    if (inFlight.size() >= DEPTH) {
                        Chunk oldest = inFlight.poll();
                        Io.join(oldest.done());
                        if (writeback != null) {
                            writeback.startWriteback(oldest.offset(), oldest.length());
                        }
                    }
                    progress.update("copy", off + n, total);
                }
                pos = e.end();
                progress.update("copy", pos, total);
            }
        }
        drain(inFlight);
        Io.join(d.flush());
    }

    private static void drain(ArrayDeque<Chunk> inFlight) throws BlockDeviceException {
        BlockDeviceException first = null;
        while (!inFlight.isEmpty()) {
            try {
                Io.join(inFlight.poll().done());
            } catch (BlockDeviceException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** The allocation map of {@code [offset, offset+length)}; all data when the device keeps none. */
    static List<Extent> allocationOf(BlockDevice d, long offset, long length) throws BlockDeviceException {
        if (length == 0) {
            return List.of();
        }
        List<Extent> got = Io.join(d.allocation(offset, length));
        return got.isEmpty() ? List.of(Extent.data(offset, length)) : got;
    }
}
