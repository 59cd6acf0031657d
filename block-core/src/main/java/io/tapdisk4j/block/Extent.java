package io.tapdisk4j.block;

/**
 * One run of a device's allocation map. {@code hole}: no storage is allocated; {@code zero}: reads return
 * zeroes (the two flags of NBD's base:allocation context).
 */
public record Extent(long offset, long length, boolean hole, boolean zero) {

    public Extent {
        if (offset < 0 || length <= 0) {
            throw new IllegalArgumentException("extent " + offset + "+" + length);
        }
    }

    public static Extent data(long offset, long length) {
        return new Extent(offset, length, false, false);
    }

    public static Extent hole(long offset, long length) {
        return new Extent(offset, length, true, true);
    }

    public long end() {
        return offset + length;
    }
}
