package io.tapdisk4j.ring.shared;

import io.tapdisk4j.ring.blkif.BlkifLayout;

/** Ring sizes as {@code __RING_SIZE} computes them, and u32 index arithmetic. */
public final class RingGeometry {

    private RingGeometry() {
    }

    /** Entries in a ring of {@code 2^order} pages: (bytes - header) / entry, rounded down to a power of two. */
    public static int entries(int order, int entrySize) {
        if (order < 0 || order > 8) {
            throw new IllegalArgumentException("ring order " + order);
        }
        long bytes = (long) BlkifLayout.PAGE_SIZE << order;
        int n = (int) ((bytes - BlkifLayout.SRING_RING) / entrySize);
        return Integer.highestOneBit(n);
    }

    /** Byte offset of the entry for free-running index {@code idx}. */
    public static long entryOffset(int idx, int size, int entrySize) {
        return BlkifLayout.SRING_RING + (long) (idx & (size - 1)) * entrySize;
    }

    /** {@code a - b} as an unsigned 32-bit distance. */
    public static long distance(int a, int b) {
        return Integer.toUnsignedLong(a - b);
    }
}
