package io.tapdisk4j.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The machine's memory-copy bandwidth for a block size: the physical ceiling every data-path figure is
 * compared with, measured in the same run. Blocks are copied from a source larger than the caches
 * (as guest pages are) into a destination that is reused (as pooled buffers are).
 */
public final class MemcpyBandwidth {

    private static final long SOURCE_BYTES = 256L << 20;

    private MemcpyBandwidth() {
    }

    /** Bytes per second copying {@code blockSize}-byte blocks for about {@code seconds}. */
    public static double measure(int blockSize, double seconds) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(SOURCE_BYTES, 4096);
            src.fill((byte) 1);
            MemorySegment dst = arena.allocate(Math.max(blockSize, 1 << 20), 4096);
            long blocks = SOURCE_BYTES / blockSize;
            long dstSlots = dst.byteSize() / blockSize;
            // Warm-up pass over the source.
            for (long i = 0; i < blocks; i++) {
                MemorySegment.copy(src, i * blockSize, dst, (i % dstSlots) * blockSize, blockSize);
            }
            long deadline = System.nanoTime() + (long) (seconds * 1e9);
            long copied = 0;
            long start = System.nanoTime();
            long i = 0;
            while (true) {
                MemorySegment.copy(src, (i % blocks) * blockSize, dst, (i % dstSlots) * blockSize, blockSize);
                copied += blockSize;
                i++;
                if ((i & 255) == 0 && System.nanoTime() > deadline) {
                    break;
                }
            }
            return copied / ((System.nanoTime() - start) / 1e9);
        }
    }
}
