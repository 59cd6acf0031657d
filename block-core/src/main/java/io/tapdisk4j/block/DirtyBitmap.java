package io.tapdisk4j.block;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** A named map of changed blocks a device keeps (exported over NBD as {@code qemu:dirty-bitmap:NAME}). */
public interface DirtyBitmap {

    String name();

    /** Bytes per bit. */
    int granularity();

    /** Runs covering {@code [offset, offset+length)} in order, value 1 where changed, 0 elsewhere. */
    List<BlockStatus> status(long offset, long length);

    /** {@link #status} without blocking the caller, for bitmaps a server keeps (an NBD client's). */
    default CompletableFuture<List<BlockStatus>> statusAsync(long offset, long length) {
        try {
            return CompletableFuture.completedFuture(status(offset, length));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }
}
