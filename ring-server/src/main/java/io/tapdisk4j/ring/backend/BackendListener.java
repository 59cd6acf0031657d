package io.tapdisk4j.ring.backend;

/**
 * Callbacks from a running backend, for metrics (the control plane binds Micrometer timers and counters
 * here) and for the toolstack state machine. Called on ring threads: implementations must be quick and
 * must not throw (exceptions are logged and ignored).
 */
public interface BackendListener {

    BackendListener NONE = new BackendListener() {
    };

    /**
     * A request was answered. {@code operation} is the data operation (READ for an indirect read),
     * {@code bytes} the payload size, {@code status} the BLKIF_RSP_* sent.
     */
    default void onRequest(int queue, int operation, long bytes, long latencyNanos, int status) {
    }

    /** The backend answered a malformed or refused request with an error (already rate-limit logged). */
    default void onBadRequest(int queue, String reason) {
    }

    /**
     * The device stopped serving because of a fatal frontend error (ring overrun, unmappable ring); the
     * toolstack reports {@code reason} under the backend's {@code error} node and moves to Closing.
     */
    default void onShutdown(String reason) {
    }
}
