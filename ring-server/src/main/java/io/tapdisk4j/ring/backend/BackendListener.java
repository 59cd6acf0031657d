package io.tapdisk4j.ring.backend;

/**
 * Callbacks from a running backend to the toolstack state machine. Called on ring threads: implementations
 * must be quick and must not throw (exceptions are logged and ignored). Metrics are not called back: they
 * read the rings' own counters and histograms ({@link BlkifBackend#stats()}).
 */
public interface BackendListener {

    BackendListener NONE = new BackendListener() {
    };

    /**
     * The device stopped serving because of a fatal frontend error (ring overrun, unmappable ring); the
     * toolstack reports {@code reason} under the backend's {@code error} node and moves to Closing.
     */
    default void onShutdown(String reason) {
    }
}
