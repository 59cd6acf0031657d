package io.tapdisk4j.block;

/** What a {@link BlockDevice} supports beyond read and write. */
public enum Capability {
    READ_ONLY,
    FLUSH,
    FUA,
    DISCARD,
    /** Discarded ranges read back as zeroes. */
    DISCARD_ZEROES,
    SECURE_DISCARD,
    WRITE_ZEROES,
    /** {@link BlockDevice#allocation} reports real holes rather than "all data". */
    ALLOCATION,
    /** {@link BlockDevice#resize} works. */
    RESIZE,
    /**
     * A flush through any handle to this device covers writes completed through every other handle to the
     * same storage: what NBD calls multi-conn safety.
     */
    MULTI_HANDLE_CONSISTENT
}
