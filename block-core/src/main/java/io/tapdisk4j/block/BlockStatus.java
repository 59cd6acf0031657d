package io.tapdisk4j.block;

/**
 * One run of a status map other than allocation: a dirty bitmap (value 1: changed) or the allocation depth
 * of an image chain (0: no layer holds it, 1: the image itself, 2: its parent, ...).
 */
public record BlockStatus(long offset, long length, int value) {

    public BlockStatus {
        if (offset < 0 || length <= 0) {
            throw new IllegalArgumentException("status run " + offset + "+" + length);
        }
    }

    public long end() {
        return offset + length;
    }
}
