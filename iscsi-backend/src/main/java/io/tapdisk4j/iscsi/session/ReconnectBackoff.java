package io.tapdisk4j.iscsi.session;

/**
 * How long to wait between login attempts while recovering a lost connection: 20 ms, doubling up to 1 s,
 * until a deadline after which recovery gives up. Times in nanoseconds, delays in milliseconds.
 */
final class ReconnectBackoff {

    private final long budgetNanos;
    private long deadline;
    private long delayMillis;

    ReconnectBackoff(long budgetNanos) {
        this.budgetNanos = budgetNanos;
    }

    /** Recovery starts at {@code now}: the first attempt goes at once. */
    void start(long now) {
        deadline = now + budgetNanos;
        delayMillis = 0;
    }

    /** Whether recovery has run out of time at {@code now}. */
    boolean expired(long now) {
        return now > deadline;
    }

    /** The wait before the next attempt after a failed one. */
    long nextDelayMillis() {
        delayMillis = Math.min(1000, Math.max(20, delayMillis * 2));
        return delayMillis;
    }
}
