package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.blkif.BlkifRequest;

/** One request between leaving the ring and being answered; pooled per ring (one per ring slot). */
final class InFlight {

    final BlkifRequest req;
    boolean busy;
    /** Answered already (by a forced close): a late completion only releases its resources. */
    boolean answered;
    long startNanos;
    long offset;
    int bytes;
    int nseg;

    InFlight(int segmentCapacity) {
        req = new BlkifRequest(segmentCapacity);
    }
}
