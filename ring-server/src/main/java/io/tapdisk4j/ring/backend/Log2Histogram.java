package io.tapdisk4j.ring.backend;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A histogram with fixed power-of-two buckets in one {@code long[]}: bucket {@code i} counts values in
 * {@code (2^(i-1), 2^i]} (bucket 0 holds 0 and 1), so recording is a leading-zero count and one add. One
 * writer thread (the ring's event loop) stores with opaque writes; any thread may {@link #addTo} a copy.
 */
public final class Log2Histogram {

    /** Buckets kept; values above {@code 2^(BUCKETS-1)} (about 9 minutes in nanoseconds) share the last. */
    public static final int BUCKETS = 40;

    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);
    private static final int SUM = BUCKETS;
    private static final int MAX = BUCKETS + 1;

    /** Buckets, then the sum and the largest value. */
    private final long[] v = new long[BUCKETS + 2];

    /** The bucket that counts {@code value} (negative values count as 0). */
    public static int bucketOf(long value) {
        if (value <= 1) {
            return 0;
        }
        return Math.min(BUCKETS - 1, 64 - Long.numberOfLeadingZeros(value - 1));
    }

    /** The inclusive upper bound of bucket {@code i}: {@code 2^i}. */
    public static long upperBound(int i) {
        return 1L << i;
    }

    /** Records one value; event loop only. */
    void record(long value) {
        long x = Math.max(0, value);
        int b = bucketOf(x);
        SLOT.setOpaque(v, b, v[b] + 1);
        SLOT.setOpaque(v, SUM, v[SUM] + x);
        if (x > v[MAX]) {
            SLOT.setOpaque(v, MAX, x);
        }
    }

    /** Adds this histogram's counts to {@code into} (a {@link HistogramSnapshot}'s layout). Any thread. */
    void addTo(long[] into) {
        for (int i = 0; i < BUCKETS; i++) {
            into[i] += (long) SLOT.getOpaque(v, i);
        }
        into[SUM] += (long) SLOT.getOpaque(v, SUM);
        into[MAX] = Math.max(into[MAX], (long) SLOT.getOpaque(v, MAX));
    }
}
