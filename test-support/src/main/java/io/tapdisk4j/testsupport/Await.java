package io.tapdisk4j.testsupport;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Waiting for a condition another thread (an event loop, a peer process) makes true: polled every
 * millisecond until a deadline, then a failure that names what was awaited. Tests wait this way, never
 * by sleeping for a guessed time.
 */
public final class Await {

    /** How long {@link #until(BooleanSupplier, String)} waits: far beyond any healthy wait, short of the test's limit. */
    public static final Duration DEFAULT = Duration.ofSeconds(30);

    private Await() {
    }

    /** Returns once {@code condition} holds; fails the test with {@code what} after {@link #DEFAULT}. */
    public static void until(BooleanSupplier condition, String what) {
        until(condition, DEFAULT, what);
    }

    /** Returns once {@code condition} holds; fails the test with {@code what} after {@code timeout}. */
    public static void until(BooleanSupplier condition, Duration timeout, String what) {
        if (!holdsWithin(condition, timeout)) {
            throw new AssertionError("timed out after " + timeout + " waiting for " + what);
        }
    }

    /** Whether {@code condition} came to hold within {@code timeout} (false on the deadline). */
    public static boolean holdsWithin(BooleanSupplier condition, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            LockSupport.parkNanos(1_000_000);
        }
        return true;
    }
}
