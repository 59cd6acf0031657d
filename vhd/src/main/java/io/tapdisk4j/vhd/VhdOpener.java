package io.tapdisk4j.vhd;

import io.tapdisk4j.image.Io;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;

import java.util.Arrays;

/**
 * Reads and validates an image's metadata (footer, its copy, dynamic header, BAT) before anything is
 * trusted: every offset must lie inside the transport, blocks must not overlap each other or the metadata,
 * and no size may make us allocate without bound. Then opens the parent chain through {@link VhdChain}.
 */
final class VhdOpener {

    private VhdOpener() {
    }

    /** The footer of the image on {@code transport}: the copy at 0 for sparse disks, else the one at the end. */
    static VhdFooter readFooter(BlockDevice transport, String where) throws BlockDeviceException {
        long size = transport.size();
        if (size < VhdFooter.SIZE) {
            throw new BlockDeviceException(BlockError.EIO, where + ": too small to be a VHD (" + size + " bytes)");
        }
        // A valid fixed footer at the end wins: a fixed disk's first sector is guest data, which may hold
        // anything, even another VHD's footer.
        byte[] last = Io.read(transport, size - VhdFooter.SIZE, VhdFooter.SIZE);
        VhdFooter trailing = null;
        BlockDeviceException trailingError = null;
        if (VhdFooter.hasCookie(last)) {
            try {
                trailing = VhdFooter.parse(last, where + " (footer at end)");
                if (trailing.diskType() == DiskType.FIXED) {
                    return trailing;
                }
            } catch (BlockDeviceException e) {
                trailingError = e;
            }
        }
        byte[] first = Io.read(transport, 0, VhdFooter.SIZE);
        if (VhdFooter.hasCookie(first)) {
            try {
                VhdFooter f = VhdFooter.parse(first, where + " (footer copy at 0)");
                if (f.diskType().sparse()) {
                    return f;
                }
            } catch (BlockDeviceException e) {
                if (trailing == null) {
                    throw e;
                }
            }
        }
        if (trailing != null) {
            return trailing;
        }
        if (trailingError != null) {
            throw trailingError;
        }
        throw new BlockDeviceException(BlockError.EIO, where + ": not a VHD (no 'conectix' footer at the start or end)");
    }

    static boolean probe(BlockDevice transport) throws BlockDeviceException {
        long size = transport.size();
        if (size < VhdFooter.SIZE) {
            return false;
        }
        if (VhdFooter.hasCookie(Io.read(transport, 0, VhdFooter.SIZE))) {
            return true;
        }
        return VhdFooter.hasCookie(Io.read(transport, size - VhdFooter.SIZE, VhdFooter.SIZE));
    }

    static VhdDevice open(BlockDevice transport, DeviceUri uri, boolean readOnly, BlockDevices devices)
            throws BlockDeviceException {
        String where = uri.text();
        VhdFooter footer = readFooter(transport, where);
        long tsize = transport.size();
        if (footer.diskType() == DiskType.FIXED) {
            if (tsize < footer.currentSize() + VhdFooter.SIZE) {
                throw new BlockDeviceException(BlockError.EIO, where + ": fixed VHD claims " + footer.currentSize()
                        + " bytes but the storage holds only " + (tsize - VhdFooter.SIZE));
            }
            return new VhdDevice(transport, uri, readOnly, footer, null, null, null, null, tsize - VhdFooter.SIZE, 0);
        }
        if (footer.currentSize() > VhdFooter.MAX_SIZE) {
            throw new BlockDeviceException(BlockError.EFBIG, where + ": VHD claims " + footer.currentSize()
                    + " bytes, beyond the format's limit of 2040 GiB");
        }
        if (footer.dataOffset() + VhdDynamicHeader.SIZE > tsize) {
            throw new BlockDeviceException(BlockError.EIO, where + ": dynamic header at " + footer.dataOffset()
                    + " lies outside the file (" + tsize + " bytes)");
        }
        VhdDynamicHeader header = VhdDynamicHeader.parse(Io.read(transport, footer.dataOffset(), VhdDynamicHeader.SIZE), where);
        long needed = (footer.currentSize() + header.blockSize() - 1) / header.blockSize();
        if (needed > header.maxTableEntries()) {
            throw new BlockDeviceException(BlockError.EIO, where + ": BAT has " + header.maxTableEntries()
                    + " entries but the disk size needs " + needed);
        }
        long batBytes = BlockAllocationTable.bytesOnDisk(header.maxTableEntries());
        if (header.tableOffset() + batBytes > tsize) {
            throw new BlockDeviceException(BlockError.EIO, where + ": BAT (" + batBytes + " bytes at "
                    + header.tableOffset() + ") lies outside the file (" + tsize + " bytes)");
        }
        BlockAllocationTable bat = BlockAllocationTable.parse(
                Io.read(transport, header.tableOffset(), (int) batBytes), header.maxTableEntries());
        long metadataEnd = Math.max(VhdFooter.SIZE, Math.max(footer.dataOffset() + VhdDynamicHeader.SIZE,
                header.tableOffset() + batBytes));
        if (footer.diskType() == DiskType.DIFFERENCING) {
            for (ParentLocator l : header.locators()) {
                if (l.isEmpty()) {
                    continue;
                }
                if (l.dataOffset() < 0 || l.dataLength() < 0 || l.dataLength() > 65536
                        || l.dataOffset() + l.dataLength() > tsize) {
                    throw new BlockDeviceException(BlockError.EIO, where + ": parent locator " + l.platformName()
                            + " points outside the file");
                }
                metadataEnd = Math.max(metadataEnd, l.dataOffset() + Math.max(l.dataLength(),
                        Math.min(l.reservedBytes(), 65536)));
            }
        }
        long end = checkBlocks(bat, header, footer, tsize, metadataEnd, where);
        BlockDevice parent = null;
        DeviceUri parentUri = null;
        VhdChain.enter(footer, where);
        try {
            if (footer.diskType() == DiskType.DIFFERENCING) {
                VhdChain.Resolved r = VhdChain.openParent(transport, uri, header, devices);
                parent = r.device();
                parentUri = r.uri();
            }
        } finally {
            VhdChain.leave(footer);
        }
        VhdDevice d = new VhdDevice(transport, uri, readOnly, footer, header, bat, parent, parentUri, end, metadataEnd);
        if (!readOnly) {
            repairTrailingFooter(transport, footer, end);
        }
        return d;
    }

    /**
     * Every allocated block must lie after the metadata, inside the file (before the trailing footer, or for
     * a transport that cannot grow, inside it) and overlap no other block. Returns the end of the data.
     */
    static long checkBlocks(BlockAllocationTable bat, VhdDynamicHeader header, VhdFooter footer, long tsize,
                            long metadataEnd, String where) throws BlockDeviceException {
        long total = header.bitmapBytes() + (long) header.blockSize();
        int[] e = bat.snapshot();
        long needed = (footer.currentSize() + header.blockSize() - 1) / header.blockSize();
        long[] offsets = new long[e.length];
        int n = 0;
        for (int i = 0; i < e.length; i++) {
            if (e[i] == BlockAllocationTable.UNUSED) {
                continue;
            }
            long off = Integer.toUnsignedLong(e[i]) * 512;
            if (i >= needed) {
                throw new BlockDeviceException(BlockError.EIO, where + ": BAT entry " + i
                        + " is allocated beyond the end of the virtual disk");
            }
            if (off < metadataEnd) {
                throw new BlockDeviceException(BlockError.EIO, where + ": BAT entry " + i + " (block at " + off
                        + ") overlaps the VHD metadata (which ends at " + metadataEnd + ")");
            }
            if (off + total > tsize) {
                throw new BlockDeviceException(BlockError.EIO, where + ": BAT entry " + i + " (block at " + off
                        + ") points outside the file (" + tsize + " bytes)");
            }
            offsets[n++] = off;
        }
        long[] sorted = Arrays.copyOf(offsets, n);
        Arrays.sort(sorted);
        long end = metadataEnd;
        for (int i = 0; i < n; i++) {
            if (i > 0 && sorted[i] < sorted[i - 1] + total) {
                throw new BlockDeviceException(BlockError.EIO, where + ": BAT entries overlap (blocks at "
                        + sorted[i - 1] + " and " + sorted[i] + ", each " + total + " bytes)");
            }
            end = Math.max(end, sorted[i] + total);
        }
        return (end + 511) / 512 * 512;
    }

    /** A crash while the file grew can leave it without a footer at its end; the copy at 0 restores it. */
    private static void repairTrailingFooter(BlockDevice transport, VhdFooter footer, long end) throws BlockDeviceException {
        long size = transport.size();
        if (size - VhdFooter.SIZE < end) {
            return; // a transport that cannot grow and is full: the footer lives in the copy only
        }
        byte[] last = Io.read(transport, size - VhdFooter.SIZE, VhdFooter.SIZE);
        byte[] want = footer.encode();
        if (!Arrays.equals(last, want)) {
            Io.write(transport, size - VhdFooter.SIZE, want);
        }
    }
}
