package io.tapdisk4j.vhd;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.image.Io;

import java.util.ArrayList;
import java.util.List;

/**
 * Changes a VHD's virtual size, and empties a layer after a coalesce, in orders that leave a valid image
 * after a crash at any point.
 */
final class VhdResizer {

    private final VhdImage image;
    private final VhdBitmapCache bitmaps;
    private final VhdSpace space;
    private final VhdAllocator allocator;
    private final VhdMetadataWriter metadata;

    VhdResizer(VhdImage image, VhdBitmapCache bitmaps, VhdSpace space, VhdAllocator allocator,
               VhdMetadataWriter metadata) {
        this.image = image;
        this.bitmaps = bitmaps;
        this.space = space;
        this.allocator = allocator;
        this.metadata = metadata;
    }

    /**
     * Changes the virtual size. Growing: a sparse disk whose BAT is too small for the new size gets a larger
     * BAT (the data blocks in the way are first copied to the end of the file: copy, flush, repoint, flush,
     * then the table grows into the freed space); a differencing disk that was once shrunk below its parent's
     * size is zero-filled up to that size again, so the parent's older data does not reappear. Shrinking cuts
     * off data, so only when {@code allowShrink} says so ({@code vdi resize --shrink}, like
     * {@code qemu-img resize --shrink}); see {@link #shrink}.
     */
    void resize(long newSize, boolean allowShrink) throws BlockDeviceException {
        long old = image.size();
        if (newSize == old) {
            return;
        }
        String describe = image.describe();
        if (newSize < old && !allowShrink) {
            throw new BlockDeviceException(BlockError.EINVAL, describe + ": shrinking a VHD (" + old + " to "
                    + newSize + " bytes) cuts off the data beyond the new end; refused unless asked for (--shrink)");
        }
        if (newSize <= 0 || newSize % 512 != 0) {
            throw new BlockDeviceException(BlockError.EINVAL, describe + ": size must be a positive multiple of 512");
        }
        if (image.diskType() != DiskType.FIXED && newSize > VhdFooter.MAX_SIZE) {
            throw new BlockDeviceException(BlockError.EFBIG, describe + ": " + newSize
                    + " bytes is beyond the VHD format's limit of 2040 GiB");
        }
        BlockDevice transport = image.transport;
        image.structureLock.writeLock().lock();
        try {
            if (newSize < old) {
                shrink(newSize);
                return;
            }
            if (image.diskType() == DiskType.FIXED) {
                Io.join(transport.resize(newSize + VhdFooter.SIZE));
                VhdFooter f = image.footer.withCurrentSize(newSize);
                Io.write(transport, newSize, f.encode());
                image.footer = f;
                Io.join(Io.zero(transport, old, Math.min(VhdFooter.SIZE, newSize - old)));
                Io.join(transport.flush());
                return;
            }
            metadata.writeBack();
            long needed = (newSize + image.blockSize - 1) / image.blockSize;
            if (needed > image.header.maxTableEntries()) {
                growTable((int) needed);
            }
            metadata.writeFooter(image.footer.withCurrentSize(newSize));
        } finally {
            image.structureLock.writeLock().unlock();
        }
        BlockDevice parent = image.below.device();
        if (parent != null && parent.size() > old) {
            // A crash before this is done leaves the parent's data visible there: older data of the same disk.
            allocator.zeroByWriting(old, Math.min(newSize, parent.size()) - old);
            metadata.flush();
        }
    }

    /**
     * Cuts the disk to {@code newSize} bytes, in an order that leaves a valid image after a crash at any point
     * (with the old size or the new, and the data below the new end intact):
     * <ol>
     *   <li>the kept part of the last block is zeroed beyond the new end, so the disk reads zeroes there should
     *       it grow again;</li>
     *   <li>the blocks beyond the new end leave the BAT (a valid image of the old size with those blocks
     *       unallocated);</li>
     *   <li>the footer takes the new size (the BAT is now larger than needed: still valid);</li>
     *   <li>the dynamic header takes the new number of BAT entries;</li>
     *   <li>the file gives back the space at its end (footer moved first); dropped blocks below that are
     *       punched.</li>
     * </ol>
     * A fixed disk writes its new footer into the space being cut off, then truncates.
     */
    private void shrink(long newSize) throws BlockDeviceException {
        BlockDevice transport = image.transport;
        if (image.diskType() == DiskType.FIXED) {
            VhdFooter f = image.footer.withCurrentSize(newSize);
            Io.write(transport, newSize, f.encode());
            Io.join(transport.flush());
            Io.join(transport.resize(newSize + VhdFooter.SIZE));
            image.footer = f;
            Io.join(transport.flush());
            return;
        }
        metadata.writeBack();
        int blockSize = image.blockSize;
        int keep = (int) ((newSize + blockSize - 1) / blockSize);
        long keptEnd = Math.min((long) keep * blockSize, image.size());
        BlockAllocationTable bat = image.bat;
        if (newSize < keptEnd && bat.allocated(keep - 1)) {
            allocator.zeroByWriting(newSize, keptEnd - newSize);
        }
        List<Long> dropped = new ArrayList<>();
        for (int i = keep; i < bat.size(); i++) {
            long boff = bat.offset(i);
            if (boff >= 0) {
                dropped.add(boff);
                bat.set(i, -1);
            }
            bitmaps.remove(i);
        }
        metadata.writeBack();
        metadata.writeFooter(image.footer.withCurrentSize(newSize));
        VhdDynamicHeader h = image.header.withTable(image.header.tableOffset(), keep);
        Io.write(transport, image.footer.dataOffset(), h.encode());
        Io.join(transport.flush());
        image.header = h;
        image.bat = bat.resized(keep);
        long end = (image.metadataEnd + 511) / 512 * 512;
        for (int i = 0; i < keep; i++) {
            long boff = image.bat.offset(i);
            if (boff >= 0) {
                end = Math.max(end, boff + image.blockTotal());
            }
        }
        space.setNextFree(end);
        if (transport.has(Capability.DISCARD)) {
            for (long boff : dropped) {
                if (boff < end) {
                    try {
                        Io.join(transport.discard(boff, image.blockTotal(), false));
                    } catch (BlockDeviceException ignored) {
                        // the space stays allocated in the file: harmless
                    }
                }
            }
        }
        space.trim();
        Io.join(transport.flush());
    }

    private void growTable(int entries) throws BlockDeviceException {
        if (entries > VhdDynamicHeader.MAX_TABLE_ENTRIES) {
            throw new BlockDeviceException(BlockError.EFBIG, image.describe() + ": BAT of " + entries
                    + " entries is too large");
        }
        BlockDevice transport = image.transport;
        VhdDynamicHeader header = image.header;
        BlockAllocationTable bat = image.bat;
        long table = header.tableOffset();
        long newEnd = table + BlockAllocationTable.bytesOnDisk(entries);
        long oldEnd = table + BlockAllocationTable.bytesOnDisk(header.maxTableEntries());
        // locators after the BAT would be overwritten: move the table itself to the end instead
        boolean locatorsAfter = header.locators().stream()
                .anyMatch(l -> !l.isEmpty() && l.dataOffset() >= oldEnd && l.dataOffset() < newEnd);
        BlockAllocationTable grown = bat.resized(entries);
        if (locatorsAfter) {
            long at = space.reserve(BlockAllocationTable.bytesOnDisk(entries));
            Io.write(transport, at, grown.encode());
            Io.join(transport.flush());
            table = at;
        } else {
            int[] e = bat.snapshot();
            for (int i = 0; i < e.length; i++) {
                if (e[i] == BlockAllocationTable.UNUSED) {
                    continue;
                }
                long boff = Integer.toUnsignedLong(e[i]) * 512;
                if (boff < newEnd) {
                    long to = space.reserveBlock();
                    ByteBuf whole = Io.join(transport.read(boff, image.blockTotal()));
                    Io.join(transport.write(to, whole, false));
                    Io.join(transport.flush());
                    bat.set(i, to);
                    grown.set(i, to);
                    metadata.writeBack();
                    Io.join(transport.flush());
                }
            }
            Io.write(transport, table, grown.encode());
            Io.join(transport.flush());
        }
        VhdDynamicHeader h = header.withTable(table, entries);
        Io.write(transport, image.footer.dataOffset(), h.encode());
        Io.join(transport.flush());
        image.header = h;
        image.bat = grown;
    }

    /** Forgets every block of this layer, once a coalesce has put its data into the parent. */
    void emptyLayer() throws BlockDeviceException {
        BlockAllocationTable bat = image.bat;
        if (image.readOnly || bat == null) {
            throw new BlockDeviceException(BlockError.EROFS, image.describe()
                    + ": cannot empty a read-only or fixed image");
        }
        image.structureLock.writeLock().lock();
        try {
            metadata.flush();
            for (int i = 0; i < bat.size(); i++) {
                if (bat.allocated(i)) {
                    bat.set(i, -1);
                }
            }
            bitmaps.clear();
            metadata.flush();
            space.setNextFree((image.metadataEnd + 511) / 512 * 512);
            space.trim();
            Io.join(image.transport.flush());
        } finally {
            image.structureLock.writeLock().unlock();
        }
    }
}
