package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.image.BackingLayer;
import io.tapdisk4j.image.ImageFile;


/**
 * An open qcow2 image's state shared by the pieces of {@link Qcow2Device}: the header (replaced by resize and
 * refcount table moves), the backing image below, and the checks every pointer read from the file passes.
 */
final class Qcow2Image extends ImageFile {

    final int clusterBits;
    final int clusterSize;
    final boolean extendedL2;
    volatile Qcow2Header header;
    /** A refcount table moved in memory and not yet named by the header: where the new one goes. */
    volatile long pendingReftableOffset;
    volatile int pendingReftableClusters;

    Qcow2Image(BlockDevice transport, DeviceUri uri, boolean readOnly, Qcow2Header header, BackingLayer below) {
        super(transport, uri, readOnly, below);
        this.header = header;
        this.clusterBits = header.clusterBits();
        this.clusterSize = header.clusterSize();
        this.extendedL2 = header.extendedL2();
    }

    @Override
    public long size() {
        return header.size();
    }

    @Override
    public String describe() {
        return "qcow2:" + transport.describe();
    }

    /**
     * A pointer to a metadata or data cluster read from the file: cluster aligned, inside the file, and not
     * into the header, the L1 table or the refcount table (a hostile image could otherwise make a write
     * through it overwrite metadata).
     */
    void checkMetadataPointer(long off, String what) throws BlockDeviceException {
        checkCluster(off, what);
    }

    void checkDataPointer(long off, String what) throws BlockDeviceException {
        checkCluster(off, what);
    }

    private void checkCluster(long off, String what) throws BlockDeviceException {
        Qcow2Header h = header;
        if (off % clusterSize != 0) {
            throw corrupt(what + " at " + off + " is not cluster aligned");
        }
        long fileEnd = (transport.size() + clusterSize - 1) / clusterSize * clusterSize;
        if (off < clusterSize || off + clusterSize > Math.max(fileEnd, (long) 0)) {
            throw corrupt(what + " at " + off + (off < clusterSize ? " points into the header"
                    : " points outside the file (" + transport.size() + " bytes)"));
        }
        if (overlaps(off, h.l1TableOffset(), (long) h.l1Size() * 8)) {
            throw corrupt(what + " at " + off + " points into the L1 table");
        }
        if (overlaps(off, h.refcountTableOffset(), (long) h.refcountTableClusters() * clusterSize)) {
            throw corrupt(what + " at " + off + " points into the refcount table");
        }
    }

    private boolean overlaps(long off, long start, long len) {
        long end = (start + len + clusterSize - 1) / clusterSize * clusterSize;
        return len > 0 && off + clusterSize > start && off < end;
    }

    BlockDeviceException corrupt(String what) {
        return new BlockDeviceException(BlockError.EIO, describe() + ": corrupt image: " + what);
    }
}
