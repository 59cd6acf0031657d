package io.tapdisk4j.block;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A device on storage that can say what changed since one of its snapshots (Ceph RBD's diff): changed-block
 * tracking and incremental backups take it from the storage instead of a log of their own.
 */
public interface SnapshotDiff {

    /**
     * The extents that differ between snapshot {@code fromSnapshot} of this image and what this device shows
     * (the image's head, or the snapshot it was opened at): data extents that were written since, and
     * {@link Extent#hole} extents that were discarded since (they read as zeroes). Sorted, non-overlapping;
     * ranges that did not change are left out.
     */
    CompletableFuture<List<Extent>> changedSince(String fromSnapshot);
}
