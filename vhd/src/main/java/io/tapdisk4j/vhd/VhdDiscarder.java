package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.image.Io;

/**
 * Discard and write-zeroes on a sparse VHD. Whole blocks of a dynamic disk are unreferenced (the BAT sector
 * durable first) and their space given back; within a block the whole sectors are zeroed (punched where the
 * transport can) and their bits cleared, so they read as zeroes whoever reads: QEMU ignores the bitmap of a
 * dynamic disk, and sets all of a block's bits when it writes into it. A block left with no bit set is
 * unreferenced like a whole one. A differencing disk's clear bit means "read the parent", so zeroes are
 * written there instead.
 */
final class VhdDiscarder {

    private final VhdImage image;
    private final VhdBitmapCache bitmaps;
    private final VhdBlockMap map;
    private final VhdAllocator allocator;
    private final VhdMetadataWriter metadata;

    VhdDiscarder(VhdImage image, VhdBitmapCache bitmaps, VhdBlockMap map, VhdAllocator allocator,
                 VhdMetadataWriter metadata) {
        this.image = image;
        this.bitmaps = bitmaps;
        this.map = map;
        this.allocator = allocator;
        this.metadata = metadata;
    }

    /** Discard on a dynamic disk. */
    void discardDynamic(long offset, long length) throws BlockDeviceException {
        map.eachBlock(offset, length, (block, in, n, pos) -> {
            if (n == image.blockSize) {
                dropWholeBlocks(pos, n);
            } else {
                discardInBlock(block, in, n);
            }
        });
    }

    /** Write-zeroes on a sparse disk; {@code mayUnmap} lets a dynamic disk give the space back. */
    void writeZeroes(long offset, long length, boolean mayUnmap) throws BlockDeviceException {
        boolean dynamic = image.diskType() == DiskType.DYNAMIC;
        map.eachBlock(offset, length, (block, in, n, pos) -> {
            if (dynamic && image.bat.offset(block) < 0) {
                return; // already zeroes
            }
            if (dynamic && mayUnmap && n == image.blockSize) {
                dropWholeBlocks(pos, n);
            } else if (dynamic && mayUnmap && pos % 512 == 0 && n % 512 == 0) {
                discardInBlock(block, in, n);
            } else {
                allocator.zeroByWriting(pos, n);
            }
        });
    }

    /** The whole sectors of {@code [in, in + n)} in a dynamic block: zeroed and cleared. */
    private void discardInBlock(int block, int in, int n) throws BlockDeviceException {
        int first = (in + 511) / 512;
        int last = (in + n) / 512;
        if (last <= first) {
            return;
        }
        BlockDevice transport = image.transport;
        long boff;
        SectorBitmap bm;
        image.structureLock.readLock().lock();
        try {
            boff = image.bat.offset(block);
            if (boff < 0) {
                return; // reads as zeroes already
            }
            long at = boff + image.bitmapBytes + (long) first * 512;
            long len = (long) (last - first) * 512;
            Io.join(transport.has(Capability.WRITE_ZEROES) ? transport.writeZeroes(at, len, true)
                    : Io.zero(transport, at, len));
            bm = bitmaps.own(block, boff);
            bm.clear(first, last - first);
            if (bm.anySet()) {
                return;
            }
        } finally {
            image.structureLock.readLock().unlock();
        }
        // Empty: give the block back. Writes hold the structure lock shared from data to bits, so with it held
        // exclusively a write elsewhere in this block cannot slip in between the test and the unreferencing.
        image.structureLock.writeLock().lock();
        try {
            if (image.bat.offset(block) == boff && bitmaps.cached(block) == bm && !bm.anySet()) {
                dropWholeBlocks((long) block * image.blockSize, image.blockSize);
            }
        } finally {
            image.structureLock.writeLock().unlock();
        }
    }

    /** Unreferences the blocks wholly inside a range (dynamic disks), then lets the transport free them. */
    private void dropWholeBlocks(long offset, long length) throws BlockDeviceException {
        int blockSize = image.blockSize;
        long first = (offset + blockSize - 1) / blockSize;
        long last = (offset + length) / blockSize; // exclusive
        BlockDevice transport = image.transport;
        image.structureLock.readLock().lock();
        try {
            for (long b = first; b < last; b++) {
                int block = (int) b;
                allocator.holding(block, () -> {
                    long boff = image.bat.offset(block);
                    if (boff < 0) {
                        return;
                    }
                    image.bat.set(block, -1);
                    bitmaps.remove(block);
                    // the unreferencing BAT sector goes out (and is durable) before the space is punched
                    metadata.flush();
                    if (transport.has(Capability.DISCARD)) {
                        try {
                            Io.join(transport.discard(boff, image.blockTotal(), false));
                        } catch (BlockDeviceException ignored) {
                            // the space stays allocated in the file: harmless
                        }
                    }
                });
            }
        } finally {
            image.structureLock.readLock().unlock();
        }
    }
}
