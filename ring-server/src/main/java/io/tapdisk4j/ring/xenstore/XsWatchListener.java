package io.tapdisk4j.ring.xenstore;

/**
 * Receives WATCH_EVENTs: {@code path} is the node that changed (at or below the watched path), {@code token}
 * the one given to {@link XsClient#watch}. Runs on the connection's event loop: hand work that blocks (any
 * xenstore call) to another thread.
 */
@FunctionalInterface
public interface XsWatchListener {
    void changed(String path, String token);
}
