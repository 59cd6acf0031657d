package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.image.Io;
import io.tapdisk4j.image.MetadataBarrier;
import io.tapdisk4j.image.MetadataWriteBack;

import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Crash-ordered write-back of a qcow2 image's metadata, on flush, FUA, close, or after
 * {@value #WRITEBACK_BYTES} bytes of new clusters. The dirty state is taken at once, then written in stages, each
 * behind a flush of everything before it: new and changed refcount blocks; the refcount table (a moved one
 * whole, then the header naming it); L2 tables; L1 entries. A crash between stages leaves clusters whose
 * refcount says used but which nothing references: leaks, never a reference to a cluster the refcounts call
 * free. Clusters given back (discard, copy on write) drop their refcount only after the change that
 * unreferenced them is durable, and are punched after that.
 */
final class Qcow2MetadataWriter extends MetadataWriteBack {

    /**
     * Clusters allocated between write-backs: 1 GiB of them (at least 64). Write-back is never needed for
     * correctness before a flush; this only bounds the metadata a flush has to write, while keeping its
     * flushes out of a stream of first writes.
     */
    static final long WRITEBACK_BYTES = 1L << 30;

    private final Qcow2Image image;
    private final Qcow2Tables tables;
    private final Qcow2Refcounts refs;
    private final ReentrantLock lock = new ReentrantLock();

    Qcow2MetadataWriter(Qcow2Image image, Qcow2Tables tables, Qcow2Refcounts refs) {
        super(image, (int) Math.max(64, WRITEBACK_BYTES / image.clusterSize));
        this.image = image;
        this.tables = tables;
        this.refs = refs;
    }

    /** Write-back passes until no released cluster is left to count down (at most four). */
    @Override
    public void writeBack() throws BlockDeviceException {
        for (int pass = 0; pass < 4 && writeBackPass(); pass++) {
            // released clusters changed refcount blocks: they go out in the next pass
        }
    }

    /** Returns true when it changed refcounts in memory that a further write-back must write. */
    private boolean writeBackPass() throws BlockDeviceException {
        if (image.readOnly) {
            return false;
        }
        BlockDevice file = image.transport;
        lock.lock();
        try {
            taken();
            // releases first: each was queued after the L2 change that unreferenced it, so that change is in
            // this write-back's L2 snapshot (or an earlier one)
            List<Long> releases = refs.takeReleases();
            List<MetadataBarrier.Write> blocks;
            Qcow2Refcounts.TableWrites table;
            List<MetadataBarrier.Write> l2;
            List<MetadataBarrier.Write> l1;
            synchronized (tables) {
                blocks = refs.takeDirtyBlocks();
                table = refs.takeDirtyTable();
                l2 = tables.takeDirtyL2();
                l1 = tables.takeDirtyL1(image.header.l1TableOffset());
            }
            try {
                MetadataBarrier.afterFlush(file, blocks);
                MetadataBarrier.afterFlush(file, table.writes());
                if (table.movedFrom() != null) {
                    Qcow2Header h = image.header.withRefcountTable(image.pendingReftableOffset,
                            image.pendingReftableClusters);
                    Io.join(file.flush());
                    Io.writeAligned(file, 0, h.encodeFixed());
                    image.header = h;
                    for (long c = 0; c < table.movedFrom()[1]; c++) {
                        refs.release(table.movedFrom()[0] + (c << image.clusterBits));
                    }
                }
                MetadataBarrier.afterFlush(file, l2);
                MetadataBarrier.afterFlush(file, l1);
            } catch (BlockDeviceException e) {
                tables.markAllDirty();
                refs.markAllDirty();
                refs.requeue(releases);
                throw e;
            }
            if (releases.isEmpty()) {
                return refs.hasReleases();
            }
            {
                List<Long> free = refs.apply(releases);
                // the refcount drops go out with the next write-back, after its flush; the space itself can
                // be punched now: nothing durable references it
                if (file.has(Capability.DISCARD)) {
                    for (long off : free) {
                        try {
                            Io.join(file.discard(off, image.clusterSize, false));
                        } catch (BlockDeviceException ignored) {
                            // the space stays allocated in the file: harmless
                        }
                    }
                }
            }
            return true;
        } finally {
            lock.unlock();
        }
    }
}
