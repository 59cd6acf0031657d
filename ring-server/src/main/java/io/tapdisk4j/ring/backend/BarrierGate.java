package io.tapdisk4j.ring.backend;

/**
 * WRITE_BARRIER ordering on one ring: a barrier waits until every request taken before it is answered, and
 * no request after it is taken until it is answered itself. Ring thread only.
 */
final class BarrierGate {

    private InFlight waiting;
    private boolean running;

    /** True while a barrier waits or runs: the ring takes no more requests. */
    boolean closed() {
        return waiting != null || running;
    }

    /** Holds {@code barrier} until the requests before it are answered. */
    void hold(InFlight barrier) {
        waiting = barrier;
    }

    /** The waiting barrier once it is the only request in flight (it leaves the gate), else null. */
    InFlight takeIfDrained(int inFlight) {
        if (waiting == null || inFlight != 1) {
            return null;
        }
        InFlight b = waiting;
        waiting = null;
        return b;
    }

    /** The waiting barrier, if any, removed without running (the ring is closing). */
    InFlight cancel() {
        InFlight b = waiting;
        waiting = null;
        return b;
    }

    void started() {
        running = true;
    }

    void finished() {
        running = false;
    }

    boolean running() {
        return running;
    }

    boolean waiting() {
        return waiting != null;
    }
}
