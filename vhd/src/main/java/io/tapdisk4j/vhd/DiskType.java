package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;

/** The footer's disk type field. */
public enum DiskType {
    FIXED(2), DYNAMIC(3), DIFFERENCING(4);

    private final int code;

    DiskType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    public boolean sparse() {
        return this != FIXED;
    }

    static DiskType of(int code, String where) throws BlockDeviceException {
        for (DiskType t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        throw new BlockDeviceException(BlockError.EIO, where + ": unknown VHD disk type " + code
                + " (expected 2 fixed, 3 dynamic or 4 differencing)");
    }
}
