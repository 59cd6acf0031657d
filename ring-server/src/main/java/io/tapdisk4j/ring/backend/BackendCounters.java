package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.blkif.Blkif;

import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;

/** Per-device counters, updated from every ring thread, read as {@link BackendStats} snapshots. */
final class BackendCounters {

    final LongAdder reads = new LongAdder();
    final LongAdder writes = new LongAdder();
    final LongAdder flushes = new LongAdder();
    final LongAdder discards = new LongAdder();
    final LongAdder bytesRead = new LongAdder();
    final LongAdder bytesWritten = new LongAdder();
    final LongAdder errors = new LongAdder();
    final LongAdder badRequests = new LongAdder();
    final LongAdder inFlight = new LongAdder();
    final LongAdder latencySum = new LongAdder();
    final LongAccumulator latencyMax = new LongAccumulator(Math::max, 0);

    void answered(int dataOp, long bytes, long latency, short status) {
        switch (dataOp) {
            case Blkif.OP_READ -> {
                reads.increment();
                if (status == Blkif.RSP_OKAY) {
                    bytesRead.add(bytes);
                }
            }
            case Blkif.OP_WRITE, Blkif.OP_WRITE_BARRIER -> {
                writes.increment();
                if (status == Blkif.RSP_OKAY) {
                    bytesWritten.add(bytes);
                }
            }
            case Blkif.OP_FLUSH_DISKCACHE -> {
                flushes.increment();
                if (status == Blkif.RSP_OKAY) {
                    bytesWritten.add(bytes); // a flush with segments wrote them
                }
            }
            case Blkif.OP_DISCARD -> discards.increment();
            default -> {
                // unknown operations count only as errors
            }
        }
        if (status != Blkif.RSP_OKAY) {
            errors.increment();
        }
        latencySum.add(latency);
        latencyMax.accumulate(latency);
    }

    BackendStats snapshot() {
        return new BackendStats(reads.sum(), writes.sum(), flushes.sum(), discards.sum(), bytesRead.sum(),
                bytesWritten.sum(), errors.sum(), badRequests.sum(), inFlight.sum(), latencySum.sum(), latencyMax.get());
    }
}
