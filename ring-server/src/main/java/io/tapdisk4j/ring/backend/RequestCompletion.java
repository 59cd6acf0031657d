package io.tapdisk4j.ring.backend;

/** How a request taken off a ring ends; implemented by its {@link RingServer}. Ring thread only. */
interface RequestCompletion {

    /** A device operation completed: OKAY, or the error it failed with (logged, mapped to a status). */
    void finish(InFlight r, Throwable error);

    /** Refused before or while moving its data: error response, a rate-limited log line, a bad request counted. */
    void refuse(InFlight r, short status, String reason);

    /** Answers with {@code status} as is. */
    void answer(InFlight r, short status);

    /** Runs {@code task} on the ring's loop (at once when already there). */
    void onLoop(Runnable task);

    /** The ring is unmapped: late completions only release what they hold. */
    boolean released();
}
