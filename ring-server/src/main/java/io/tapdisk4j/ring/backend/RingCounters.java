package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.blkif.Blkif;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One ring's statistics, owned by the ring: written only on its event loop (plain arithmetic, published
 * with opaque stores, no shared cache line with other rings), read from any thread as {@link BackendStats}
 * by whoever observes the device (ctl, the daemon's metrics). Nothing is called per response.
 */
final class RingCounters {

    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

    private static final int READS = 0;
    private static final int WRITES = 1;
    private static final int FLUSHES = 2;
    private static final int DISCARDS = 3;
    private static final int BYTES_READ = 4;
    private static final int BYTES_WRITTEN = 5;
    private static final int ERRORS = 6;
    private static final int BAD_REQUESTS = 7;
    private static final int STARTED = 8;
    private static final int ANSWERED = 9;
    private static final int LATENCY_SUM = 10;
    private static final int LATENCY_MAX = 11;
    private static final int COUNT = 12;

    private final long[] v = new long[COUNT];

    private void add(int i, long n) {
        SLOT.setOpaque(v, i, v[i] + n);
    }

    private long get(int i) {
        return (long) SLOT.getOpaque(v, i);
    }

    /** A request was taken off the ring. */
    void started() {
        add(STARTED, 1);
    }

    /** A request was refused (malformed, or not supported). */
    void badRequest() {
        add(BAD_REQUESTS, 1);
    }

    /** A request was answered with {@code status}; {@code dataOp} is READ for an indirect read. */
    void answered(int dataOp, long bytes, long latency, short status) {
        boolean ok = status == Blkif.RSP_OKAY;
        switch (dataOp) {
            case Blkif.OP_READ -> {
                add(READS, 1);
                if (ok) {
                    add(BYTES_READ, bytes);
                }
            }
            case Blkif.OP_WRITE, Blkif.OP_WRITE_BARRIER -> {
                add(WRITES, 1);
                if (ok) {
                    add(BYTES_WRITTEN, bytes);
                }
            }
            case Blkif.OP_FLUSH_DISKCACHE -> {
                add(FLUSHES, 1);
                if (ok) {
                    add(BYTES_WRITTEN, bytes); // a flush with segments wrote them
                }
            }
            case Blkif.OP_DISCARD -> add(DISCARDS, 1);
            default -> {
                // unknown operations count only as errors
            }
        }
        if (!ok) {
            add(ERRORS, 1);
        }
        add(LATENCY_SUM, latency);
        if (latency > v[LATENCY_MAX]) {
            SLOT.setOpaque(v, LATENCY_MAX, latency);
        }
        add(ANSWERED, 1);
    }

    /** The counters now; {@code inFlight} never negative (answered is read before started). */
    BackendStats snapshot() {
        long answered = get(ANSWERED);
        long started = get(STARTED);
        return new BackendStats(get(READS), get(WRITES), get(FLUSHES), get(DISCARDS), get(BYTES_READ),
                get(BYTES_WRITTEN), get(ERRORS), get(BAD_REQUESTS), started - answered, get(LATENCY_SUM),
                get(LATENCY_MAX));
    }

    /** Sums the rings of one device. */
    static BackendStats sum(Iterable<RingCounters> rings) {
        long[] s = new long[11];
        for (RingCounters c : rings) {
            BackendStats b = c.snapshot();
            s[0] += b.reads();
            s[1] += b.writes();
            s[2] += b.flushes();
            s[3] += b.discards();
            s[4] += b.bytesRead();
            s[5] += b.bytesWritten();
            s[6] += b.errors();
            s[7] += b.badRequests();
            s[8] += b.inFlight();
            s[9] += b.latencyNanosSum();
            s[10] = Math.max(s[10], b.latencyNanosMax());
        }
        return new BackendStats(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10]);
    }
}
