package io.tapdisk4j.ring.backend;

/**
 * A snapshot of one device's counters (all queues together), since start.
 *
 * @param reads            READ requests answered (indirect ones included)
 * @param writes           WRITE and WRITE_BARRIER requests answered
 * @param flushes          FLUSH_DISKCACHE requests (and barriers' flushes) answered
 * @param discards         DISCARD requests answered
 * @param bytesRead        payload bytes copied to the guest
 * @param bytesWritten     payload bytes taken from the guest
 * @param errors           requests answered with BLKIF_RSP_ERROR or BLKIF_RSP_EOPNOTSUPP
 * @param badRequests      the subset of errors caused by malformed or refused requests
 * @param inFlight         requests taken off the rings and not yet answered
 * @param latencyNanosSum  sum of the latencies of every answered request
 * @param latencyNanosMax  largest latency seen
 * @param histograms       latency, size and grant-copy-batch histograms, for the daemon's metrics
 */
public record BackendStats(long reads, long writes, long flushes, long discards, long bytesRead, long bytesWritten,
                           long errors, long badRequests, long inFlight, long latencyNanosSum, long latencyNanosMax,
                           RingHistograms histograms) {

    /** Counters without histograms. */
    public BackendStats(long reads, long writes, long flushes, long discards, long bytesRead, long bytesWritten,
                        long errors, long badRequests, long inFlight, long latencyNanosSum, long latencyNanosMax) {
        this(reads, writes, flushes, discards, bytesRead, bytesWritten, errors, badRequests, inFlight,
                latencyNanosSum, latencyNanosMax, RingHistograms.EMPTY);
    }

    public long requests() {
        return reads + writes + flushes + discards;
    }
}
