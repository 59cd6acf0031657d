package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.image.Io;
import io.tapdisk4j.image.MetadataBarrier;
import io.tapdisk4j.image.MetadataWriteBack;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Crash-ordered write-back of a VHD's metadata. New blocks become visible to readers in memory at once; the
 * BAT sectors and changed bitmaps reach the transport on flush, on a FUA write, on close, or after
 * {@value #WRITEBACK_THRESHOLD} new blocks. Write-back snapshots the dirty metadata, flushes the transport
 * (the data and bitmaps it points to are durable), then writes the BAT and bitmap sectors. A crash at any
 * point therefore leaves a valid image: unreferenced space at worst.
 */
final class VhdMetadataWriter extends MetadataWriteBack {

    static final int WRITEBACK_THRESHOLD = 32;

    private final VhdImage image;
    private final VhdBitmapCache bitmaps;
    private final java.util.concurrent.locks.ReentrantLock lock = new java.util.concurrent.locks.ReentrantLock();

    VhdMetadataWriter(VhdImage image, VhdBitmapCache bitmaps) {
        super(image, WRITEBACK_THRESHOLD);
        this.image = image;
        this.bitmaps = bitmaps;
    }

    /**
     * Writes dirty BAT sectors and bitmaps behind a flush of the data they describe. The snapshot is taken
     * before the flush, so nothing written after the flush started is described before it is durable.
     */
    @Override
    public void writeBack() throws BlockDeviceException {
        BlockAllocationTable bat = image.bat;
        if (image.readOnly || bat == null) {
            return;
        }
        lock.lock();
        try {
            taken();
            List<MetadataBarrier.Write> writes = new ArrayList<>();
            List<SectorBitmap> taken = new ArrayList<>();
            bitmaps.forEach((block, bm) -> {
                if (bm.dirty()) {
                    long boff = bat.offset(block);
                    if (boff >= 0) {
                        taken.add(bm);
                        writes.add(new MetadataBarrier.Write(boff, bm.snapshotForWrite()));
                    }
                }
            });
            List<Map.Entry<Integer, byte[]>> batSectors = bat.takeDirty();
            for (Map.Entry<Integer, byte[]> s : batSectors) {
                writes.add(new MetadataBarrier.Write(image.header.tableOffset() + (long) s.getKey() * 512, s.getValue()));
            }
            try {
                MetadataBarrier.afterFlush(image.transport, writes);
            } catch (BlockDeviceException e) {
                taken.forEach(SectorBitmap::markDirty);
                batSectors.forEach(s -> bat.markDirty(s.getKey()));
                throw e;
            }
        } finally {
            lock.unlock();
        }
    }

    /** The footer at the end of the file, then its copy at 0 (which readers use), each behind a flush. */
    void writeFooter(VhdFooter f) throws BlockDeviceException {
        BlockDevice transport = image.transport;
        Io.join(transport.flush());
        Io.write(transport, transport.size() - VhdFooter.SIZE, f.encode());
        Io.join(transport.flush());
        Io.write(transport, 0, f.encode());
        Io.join(transport.flush());
        image.footer = f;
    }
}
