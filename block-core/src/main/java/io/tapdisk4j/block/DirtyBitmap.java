package io.tapdisk4j.block;

import java.util.List;

/** A named map of changed blocks a device keeps (exported over NBD as {@code qemu:dirty-bitmap:NAME}). */
public interface DirtyBitmap {

    String name();

    /** Bytes per bit. */
    int granularity();

    /** Runs covering {@code [offset, offset+length)} in order, value 1 where changed, 0 elsewhere. */
    List<BlockStatus> status(long offset, long length);
}
