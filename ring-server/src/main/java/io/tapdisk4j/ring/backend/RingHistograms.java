package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.blkif.Blkif;

/**
 * A device's histograms as read (all rings together): latency in nanoseconds and payload size in bytes per
 * data operation (a {@code BLKIF_OP_*} code; an indirect request counts under its indirect_op), and
 * segments per executed grant-copy batch. Immutable; summed over connections like {@link BackendStats}.
 */
public final class RingHistograms {

    /** Operation codes covered: {@code BLKIF_OP_READ} (0) up to {@code BLKIF_OP_INDIRECT} (6). */
    public static final int OPS = Blkif.OP_INDIRECT + 1;

    public static final RingHistograms EMPTY = new RingHistograms(empty(), empty(), HistogramSnapshot.EMPTY);

    private final HistogramSnapshot[] latency;
    private final HistogramSnapshot[] size;
    private final HistogramSnapshot grantCopyBatches;

    RingHistograms(HistogramSnapshot[] latency, HistogramSnapshot[] size, HistogramSnapshot grantCopyBatches) {
        this.latency = latency;
        this.size = size;
        this.grantCopyBatches = grantCopyBatches;
    }

    private static HistogramSnapshot[] empty() {
        HistogramSnapshot[] h = new HistogramSnapshot[OPS];
        java.util.Arrays.fill(h, HistogramSnapshot.EMPTY);
        return h;
    }

    /** Latency of answered requests of operation {@code op}, nanoseconds. */
    public HistogramSnapshot latency(int op) {
        return latency[op];
    }

    /** Payload bytes of answered requests of operation {@code op} that carried data. */
    public HistogramSnapshot size(int op) {
        return size[op];
    }

    /** Latency of every answered request. */
    public HistogramSnapshot latency() {
        HistogramSnapshot all = HistogramSnapshot.EMPTY;
        for (HistogramSnapshot h : latency) {
            all = all.plus(h);
        }
        return all;
    }

    /** Segments per executed grant-copy batch (one hypercall or ioctl each on Xen). */
    public HistogramSnapshot grantCopyBatches() {
        return grantCopyBatches;
    }

    public RingHistograms plus(RingHistograms o) {
        HistogramSnapshot[] l = new HistogramSnapshot[OPS];
        HistogramSnapshot[] s = new HistogramSnapshot[OPS];
        for (int i = 0; i < OPS; i++) {
            l[i] = latency[i].plus(o.latency[i]);
            s[i] = size[i].plus(o.size[i]);
        }
        return new RingHistograms(l, s, grantCopyBatches.plus(o.grantCopyBatches));
    }
}
