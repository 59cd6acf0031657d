package io.tapdisk4j.vhd;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.image.AllocationTable;
import io.tapdisk4j.image.Io;
import io.tapdisk4j.image.LayerReader;
import io.tapdisk4j.image.PendingAllocation;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The write path of a sparse VHD: writes into allocated blocks, and allocation on first write. A new block is
 * appended (data, then its bitmap) in space {@link VhdSpace} reserved, then published in memory; the BAT
 * reaches the file at the next write-back ({@link VhdMetadataWriter}). Allocation of a block is serialised
 * per block: writers into a block being allocated join it ({@link PendingAllocation}).
 */
final class VhdAllocator {

    private final VhdImage image;
    private final VhdBitmapCache bitmaps;
    private final VhdBlockMap map;
    private final VhdSpace space;
    private final VhdMetadataWriter metadata;
    private final AllocationTable allocating = new AllocationTable();
    private final ReentrantLock unalignedLock = new ReentrantLock();

    VhdAllocator(VhdImage image, VhdBitmapCache bitmaps, VhdBlockMap map, VhdSpace space, VhdMetadataWriter metadata) {
        this.image = image;
        this.bitmaps = bitmaps;
        this.map = map;
        this.space = space;
        this.metadata = metadata;
    }

    /** Writes {@code data} (not taken over) at any alignment; the caller holds the structure lock shared. */
    void write(long offset, ByteBuf data) throws BlockDeviceException {
        if (offset % 512 != 0 || data.readableBytes() % 512 != 0) {
            writeUnaligned(offset, data);
        } else {
            writeAligned(offset, data);
        }
    }

    /** Read-modify-write of the sectors around an unaligned write (rare: frontends send whole sectors). */
    private void writeUnaligned(long offset, ByteBuf data) throws BlockDeviceException {
        long start = offset / 512 * 512;
        long end = Math.min(image.size(), (offset + data.readableBytes() + 511) / 512 * 512);
        unalignedLock.lock();
        try {
            ByteBuf whole = Buffers.direct((int) (end - start));
            try {
                LayerReader.readInto(map, image.transport, image.below, null, start, (int) (end - start), whole);
                whole.setBytes((int) (offset - start), data, data.readerIndex(), data.readableBytes());
                writeAligned(start, whole);
            } finally {
                whole.release();
            }
        } finally {
            unalignedLock.unlock();
        }
    }

    /** Writes sector-aligned data (does not take over {@code data}'s reference). */
    private void writeAligned(long offset, ByteBuf data) throws BlockDeviceException {
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        int length = data.readableBytes();
        map.eachBlock(offset, length, (block, in, n, pos) -> {
            ByteBuf slice = data.retainedSlice(data.readerIndex() + (int) (pos - offset), n);
            if (n == length) {
                writeInBlock(block, in, slice); // one block: no extra thread
            } else {
                parts.add(Io.async(image.describe(), () -> {
                    writeInBlock(block, in, slice);
                    return null;
                }));
            }
        });
        Io.joinAll(parts);
    }

    /** Writes within one block, allocating it first if needed; takes over {@code slice}. */
    private void writeInBlock(int block, int in, ByteBuf slice) throws BlockDeviceException {
        BlockDevice transport = image.transport;
        try {
            while (true) {
                long boff = image.bat.offset(block);
                if (boff >= 0) {
                    int sectors = slice.readableBytes() / 512;
                    Io.join(transport.write(boff + image.bitmapBytes + in, slice.retain(), false));
                    SectorBitmap bm = bitmaps.get(block, boff);
                    if (bm != bitmaps.full()) {
                        bm.set(in / 512, sectors); // readers see the data once its bits are set
                    }
                    return;
                }
                SectorBitmap pendingBits = SectorBitmap.empty(image.blockSize);
                PendingAllocation mine = new PendingAllocation((first, count) -> {
                    pendingBits.set(first, count);
                    return 0;
                });
                PendingAllocation other = allocating.claim(block, mine);
                if (other != null) {
                    if (AllocationTable.join(other, in / 512, slice.readableBytes() / 512, transport,
                            image.bitmapBytes + in, slice)) {
                        return;
                    }
                    continue;
                }
                boolean published = false;
                try {
                    if (!image.bat.allocated(block)) {
                        allocate(block, in, slice.retain(), mine, pendingBits);
                        published = true;
                        return;
                    }
                } finally {
                    allocating.release(block, mine, published);
                }
            }
        } finally {
            slice.release();
        }
    }

    /** Appends block {@code block} holding {@code data} at {@code in}; takes over {@code data}. */
    private void allocate(int block, int in, ByteBuf data, PendingAllocation pending, SectorBitmap bm)
            throws BlockDeviceException {
        BlockDevice transport = image.transport;
        long p;
        try {
            p = space.reserveBlock();
        } catch (BlockDeviceException e) {
            data.release();
            throw e;
        }
        int len = data.readableBytes();
        boolean differencing = image.diskType() == DiskType.DIFFERENCING;
        synchronized (pending) {
            if (differencing) {
                bm.set(in / 512, len / 512);
            } else {
                bm.set(0, image.blockSize / 512);
            }
        }
        long dataStart = p + image.bitmapBytes;
        boolean fresh = dataStart >= space.freshFrom();
        if (fresh) {
            pending.placed.complete(p);
        } else {
            pending.close();
            pending.placed.complete(-1L);
        }
        List<CompletableFuture<Void>> io = new ArrayList<>();
        io.add(transport.write(dataStart + in, data, false));
        // Space the transport grew by since open reads as zeroes; older space (a LUN, the old footer, blocks
        // a crash left unreferenced) needs the parts this write does not cover zeroed.
        zeroBelowFresh(io, dataStart, dataStart + in);
        zeroBelowFresh(io, dataStart + in + len, dataStart + image.blockSize);
        BlockDeviceException failure = null;
        try {
            Io.joinAll(io);
        } catch (BlockDeviceException e) {
            failure = e;
        }
        pending.closeAndAwaitJoined(); // the block is sound whatever the joined writes did
        if (failure == null) {
            try {
                // the bitmap, with the sectors of every joined write, goes out after their data
                Io.write(transport, p, bm.snapshotForWrite());
            } catch (BlockDeviceException e) {
                failure = e;
            }
        }
        if (failure != null) {
            throw failure; // the reserved space stays unreferenced: harmless
        }
        bitmaps.put(block, differencing ? bm : bitmaps.full());
        image.bat.set(block, p);
        metadata.allocated();
    }

    private void zeroBelowFresh(List<CompletableFuture<Void>> io, long from, long to) {
        long hi = Math.min(to, space.freshFrom());
        if (hi > from) {
            io.add(Io.zero(image.transport, from, hi - from));
        }
    }

    /** Holds block {@code block} against allocation while {@code body} unreferences it (a discard). */
    void holding(int block, AllocationTable.Body body) throws BlockDeviceException {
        allocating.holding(block, body);
    }

    /** Writes zero buffers over a range through the normal write path (allocating where needed). */
    void zeroByWriting(long pos, long n) throws BlockDeviceException {
        int chunk = 1 << 20;
        for (long done = 0; done < n; done += chunk) {
            int k = (int) Math.min(chunk, n - done);
            ByteBuf z = Buffers.zeroes(k);
            try {
                image.structureLock.readLock().lock();
                try {
                    write(pos + done, z);
                } finally {
                    image.structureLock.readLock().unlock();
                }
            } finally {
                z.release();
            }
        }
    }
}
