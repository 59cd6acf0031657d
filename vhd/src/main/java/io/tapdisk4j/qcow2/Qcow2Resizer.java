package io.tapdisk4j.qcow2;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.image.Io;

/**
 * Changes a qcow2 image's virtual size, and empties a layer after a coalesce. Growing past what the L1 table
 * maps writes a larger table at the end of the file, then the header naming it (each behind a flush), then
 * gives the old table back; the backing image's data beyond the old size is hidden by zero clusters, so it
 * does not reappear. Shrinking (only when asked) unmaps the clusters beyond the new end before the header
 * takes the new size.
 */
final class Qcow2Resizer {

    private final Qcow2Image image;
    private final Qcow2Tables tables;
    private final Qcow2Space space;
    private final Qcow2Refcounts refs;
    private final Qcow2MetadataWriter metadata;
    private final Qcow2Allocator allocator;

    Qcow2Resizer(Qcow2Image image, Qcow2Tables tables, Qcow2Space space, Qcow2Refcounts refs,
                 Qcow2MetadataWriter metadata, Qcow2Allocator allocator) {
        this.image = image;
        this.tables = tables;
        this.space = space;
        this.refs = refs;
        this.metadata = metadata;
        this.allocator = allocator;
    }

    void resize(long newSize, boolean allowShrink) throws BlockDeviceException {
        long old = image.size();
        if (newSize == old) {
            return;
        }
        if (newSize < old && !allowShrink) {
            throw new BlockDeviceException(BlockError.EINVAL, image.describe() + ": shrinking (" + old + " to "
                    + newSize + " bytes) cuts off the data beyond the new end; refused unless asked for (--shrink)");
        }
        if (newSize <= 0 || newSize % 512 != 0 || newSize > Qcow2Header.MAX_SIZE) {
            throw new BlockDeviceException(BlockError.EINVAL, image.describe()
                    + ": size must be a positive multiple of 512 up to 1 PiB");
        }
        BlockDevice file = image.transport;
        image.structureLock.writeLock().lock();
        try {
            if (newSize < old) {
                shrink(newSize);
                return;
            }
            Qcow2Header h = image.header;
            long needed = Qcow2Header.l1EntriesFor(newSize, h.clusterBits(), h.extendedL2());
            metadata.flush();
            if (needed > h.l1Size()) {
                if (needed * 8 > Qcow2Header.MAX_L1_BYTES) {
                    throw new BlockDeviceException(BlockError.EFBIG, image.describe() + ": " + newSize
                            + " bytes needs an L1 table larger than 32 MiB");
                }
                int clusters = (int) ((needed * 8 + image.clusterSize - 1) / image.clusterSize);
                long at = space.allocate(clusters);
                tables.growL1((int) needed);
                metadata.flush(); // the new table's refcounts, before anything points to it
                Io.write(file, at, tables.encodeL1(clusters));
                Io.join(file.flush());
                Qcow2Header nh = h.withSize(newSize, (int) needed, at);
                Io.writeAligned(file, 0, nh.encodeFixed());
                Io.join(file.flush());
                image.header = nh;
                long oldClusters = ((long) h.l1Size() * 8 + image.clusterSize - 1) / image.clusterSize;
                for (long c = 0; c < oldClusters; c++) {
                    refs.release(h.l1TableOffset() + c * image.clusterSize);
                }
                metadata.flush();
            } else {
                Qcow2Header nh = h.withSize(newSize, h.l1Size(), h.l1TableOffset());
                Io.writeAligned(file, 0, nh.encodeFixed());
                Io.join(file.flush());
                image.header = nh;
            }
        } finally {
            image.structureLock.writeLock().unlock();
        }
        BlockDevice backing = image.below.device();
        if (backing != null && backing.size() > old) {
            long end = Math.min(newSize, backing.size());
            hideBacking(old, end - old);
        }
    }

    /** Zero clusters over a range, so the backing image's data there does not show through. */
    private void hideBacking(long offset, long length) throws BlockDeviceException {
        int cs = image.clusterSize;
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int in = (int) (pos & (cs - 1));
            int n = (int) Math.min(cs - in, end - pos);
            ByteBuf z = Buffers.zeroes(n);
            try {
                allocator.write(pos, z);
            } finally {
                z.release();
            }
            pos += n;
        }
        metadata.flush();
    }

    private void shrink(long newSize) throws BlockDeviceException {
        int cs = image.clusterSize;
        long keptEnd = (newSize + cs - 1) / cs * cs;
        if (keptEnd > newSize) {
            // the rest of the last cluster reads zeroes should the disk grow again
            ByteBuf z = Buffers.zeroes((int) (keptEnd - newSize));
            try {
                allocator.write(newSize, z);
            } finally {
                z.release();
            }
        }
        unmapFrom(keptEnd);
        Qcow2Header h = image.header;
        Qcow2Header nh = h.withSize(newSize, h.l1Size(), h.l1TableOffset());
        Io.writeAligned(image.transport, 0, nh.encodeFixed());
        Io.join(image.transport.flush());
        image.header = nh;
    }

    /** Unmaps every cluster from {@code from} on (L2 entries, then whole L2 tables); durable on return. */
    private void unmapFrom(long from) throws BlockDeviceException {
        int per = image.header.l2Entries();
        long firstCluster = from >>> image.clusterBits;
        int firstTable = (int) (firstCluster / per);
        for (int i = firstTable; i < tables.l1Size(); i++) {
            L2Table t = tables.l2(i);
            if (t == null) {
                continue;
            }
            int k0 = i == firstTable ? (int) (firstCluster % per) : 0;
            for (int k = k0; k < t.entries(); k++) {
                long e = t.entry(k);
                if (e != 0 || t.bitmap(k) != 0) {
                    t.set(k, 0, 0);
                    allocator.releaseOld(e);
                }
            }
        }
        metadata.flush();
        int keepTables = (int) ((firstCluster + per - 1) / per);
        for (int i = keepTables; i < tables.l1Size(); i++) {
            long e = tables.l1Entry(i);
            if (L2Entry.offset(e) != 0) {
                refs.release(L2Entry.offset(e));
            }
        }
        tables.clearL1(keepTables);
        metadata.flush();
    }

    /** Forgets every cluster of this layer, once a coalesce has put its data into the backing image. */
    void emptyLayer() throws BlockDeviceException {
        if (image.readOnly) {
            throw new BlockDeviceException(BlockError.EROFS, image.describe() + ": cannot empty a read-only image");
        }
        image.structureLock.writeLock().lock();
        try {
            unmapFrom(0);
        } finally {
            image.structureLock.writeLock().unlock();
        }
    }
}
