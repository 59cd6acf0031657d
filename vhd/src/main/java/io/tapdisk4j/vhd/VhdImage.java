package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.image.BackingLayer;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * An open VHD's metadata in memory, shared by the pieces of {@link VhdDevice}: the footer, dynamic header and
 * BAT (replaced by resize), the parent below, and the lock that resize takes exclusively.
 */
final class VhdImage {

    final BlockDevice transport;
    final DeviceUri uri;
    final boolean readOnly;
    final BackingLayer below;
    final int blockSize;
    final int bitmapBytes;
    final long metadataEnd;
    volatile VhdFooter footer;
    volatile VhdDynamicHeader header;
    volatile BlockAllocationTable bat;
    /** Requests hold it shared; resize holds it exclusively while it moves blocks and rewrites metadata. */
    final ReentrantReadWriteLock structureLock = new ReentrantReadWriteLock();

    VhdImage(BlockDevice transport, DeviceUri uri, boolean readOnly, VhdFooter footer, VhdDynamicHeader header,
             BlockAllocationTable bat, BackingLayer below, long metadataEnd) {
        this.transport = transport;
        this.uri = uri;
        this.readOnly = readOnly;
        this.footer = footer;
        this.header = header;
        this.bat = bat;
        this.below = below;
        this.blockSize = header == null ? 0 : header.blockSize();
        this.bitmapBytes = header == null ? 0 : header.bitmapBytes();
        this.metadataEnd = metadataEnd;
    }

    DiskType diskType() {
        return footer.diskType();
    }

    long size() {
        return footer.currentSize();
    }

    /** Bitmap and data of one block, as they lie in the file. */
    int blockTotal() {
        return bitmapBytes + blockSize;
    }

    String describe() {
        return "vhd:" + transport.describe();
    }
}
