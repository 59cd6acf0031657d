package io.tapdisk4j.vhd;

/** Progress of a long VDI operation, and the way to stop it at the next safe point (Ctrl-C). */
public interface VdiProgress {

    VdiProgress NONE = (phase, done, total) -> {
    };

    /** {@code done} of {@code total} bytes handled in {@code phase}. */
    void update(String phase, long done, long total);

    /** True when the operation should stop at the next point where the images are consistent. */
    default boolean cancelled() {
        return false;
    }
}
