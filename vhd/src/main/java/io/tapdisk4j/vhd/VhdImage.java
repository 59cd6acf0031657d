package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.image.BackingLayer;
import io.tapdisk4j.image.ImageFile;


/**
 * An open VHD's metadata in memory, shared by the pieces of {@link VhdDevice}: the footer, dynamic header and
 * BAT (replaced by resize), the parent below, and the lock that resize takes exclusively.
 */
final class VhdImage extends ImageFile {

    final int blockSize;
    final int bitmapBytes;
    final long metadataEnd;
    volatile VhdFooter footer;
    volatile VhdDynamicHeader header;
    volatile BlockAllocationTable bat;

    VhdImage(BlockDevice transport, DeviceUri uri, boolean readOnly, VhdFooter footer, VhdDynamicHeader header,
             BlockAllocationTable bat, BackingLayer below, long metadataEnd) {
        super(transport, uri, readOnly, below);
        this.footer = footer;
        this.header = header;
        this.bat = bat;
        this.blockSize = header == null ? 0 : header.blockSize();
        this.bitmapBytes = header == null ? 0 : header.bitmapBytes();
        this.metadataEnd = metadataEnd;
    }

    DiskType diskType() {
        return footer.diskType();
    }

    @Override
    public long size() {
        return footer.currentSize();
    }

    /** Bitmap and data of one block, as they lie in the file. */
    int blockTotal() {
        return bitmapBytes + blockSize;
    }

    @Override
    public String describe() {
        return "vhd:" + transport.describe();
    }
}
