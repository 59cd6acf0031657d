package io.tapdisk4j.ring.backend;

import java.util.Arrays;

/**
 * A read copy of one or more {@link Log2Histogram}s: counts per power-of-two bucket, sum and max. Bucket
 * counts are read one by one while the ring may write, so {@link #count()} is their sum (always consistent
 * with the buckets), and the sum may run a few values ahead or behind.
 */
public final class HistogramSnapshot {

    public static final HistogramSnapshot EMPTY = new HistogramSnapshot(new long[Log2Histogram.BUCKETS + 2]);

    private final long[] v;

    HistogramSnapshot(long[] v) {
        this.v = v;
    }

    static long[] newAccumulator() {
        return new long[Log2Histogram.BUCKETS + 2];
    }

    /** Values in bucket {@code i}, i.e. in {@code (2^(i-1), 2^i]}. */
    public long bucket(int i) {
        return v[i];
    }

    /** Values at most {@code 2^i}. */
    public long cumulative(int i) {
        long n = 0;
        for (int k = 0; k <= i && k < Log2Histogram.BUCKETS; k++) {
            n += v[k];
        }
        return n;
    }

    public long count() {
        return cumulative(Log2Histogram.BUCKETS - 1);
    }

    public long sum() {
        return v[Log2Histogram.BUCKETS];
    }

    public long max() {
        return v[Log2Histogram.BUCKETS + 1];
    }

    /** Both together (bucket by bucket; the larger max). */
    public HistogramSnapshot plus(HistogramSnapshot o) {
        long[] s = Arrays.copyOf(v, v.length);
        for (int i = 0; i < s.length - 1; i++) {
            s[i] += o.v[i];
        }
        s[s.length - 1] = Math.max(s[s.length - 1], o.v[s.length - 1]);
        return new HistogramSnapshot(s);
    }

    /** What was recorded since {@code earlier} (a snapshot of the same recorders); max is this one's. */
    public HistogramSnapshot minus(HistogramSnapshot earlier) {
        long[] s = Arrays.copyOf(v, v.length);
        for (int i = 0; i < s.length - 1; i++) {
            s[i] = Math.max(0, s[i] - earlier.v[i]);
        }
        return new HistogramSnapshot(s);
    }

    /**
     * The value below which a fraction {@code q} of the values lie, interpolated linearly inside its bucket
     * and capped at the max; NaN when empty. Accurate to the bucket's width (a factor of two at worst).
     */
    public double quantile(double q) {
        long n = count();
        if (n == 0) {
            return Double.NaN;
        }
        double rank = q * n;
        long below = 0;
        for (int i = 0; i < Log2Histogram.BUCKETS; i++) {
            long c = v[i];
            if (c > 0 && below + c >= rank) {
                double lo = i == 0 ? 0 : Log2Histogram.upperBound(i - 1);
                double hi = Log2Histogram.upperBound(i);
                double x = lo + (hi - lo) * Math.max(0, rank - below) / c;
                return max() > 0 ? Math.min(x, max()) : x;
            }
            below += c;
        }
        return max();
    }
}
