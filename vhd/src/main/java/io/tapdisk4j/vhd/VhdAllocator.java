package io.tapdisk4j.vhd;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.image.Io;
import io.tapdisk4j.image.LayerReader;
import io.tapdisk4j.image.PendingAllocation;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
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
    private final ConcurrentHashMap<Integer, PendingAllocation> allocating = new ConcurrentHashMap<>();
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
        List<BlockDeviceException> errors = new ArrayList<>();
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
        for (CompletableFuture<Void> p : parts) {
            try {
                Io.join(p);
            } catch (BlockDeviceException e) {
                errors.add(e);
            }
        }
        if (!errors.isEmpty()) {
            throw errors.getFirst();
        }
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
                PendingAllocation other = allocating.putIfAbsent(block, mine);
                if (other != null) {
                    if (joinAllocation(other, in, slice)) {
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
                    allocating.remove(block, mine);
                    mine.placed.complete(-1L);
                    mine.published.complete(published);
                }
            }
        } finally {
            slice.release();
        }
    }

    /**
     * Writes into a block another request is allocating, once its place is reserved (and it needs no
     * zeroing). Returns false when the caller must start over (the block was published without this write,
     * or allocation failed).
     */
    private boolean joinAllocation(PendingAllocation pending, int in, ByteBuf slice) throws BlockDeviceException {
        long p = pending.awaitPlace();
        CompletableFuture<Void> done = p < 0 ? null : pending.join(in / 512, slice.readableBytes() / 512);
        if (done == null) {
            pending.published.handle((v, t) -> null).join();
            return false;
        }
        try {
            Io.join(image.transport.write(p + image.bitmapBytes + in, slice.retain(), false));
            done.complete(null);
        } catch (Throwable e) {
            done.completeExceptionally(e); // the allocating request waits for this one
            throw e;
        }
        // complete only once readers can see the block; if it never gets published, write again
        return pending.awaitPublished();
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
        for (CompletableFuture<Void> f : io) {
            try {
                Io.join(f);
            } catch (BlockDeviceException e) {
                failure = failure == null ? e : failure;
            }
        }
        List<CompletableFuture<Void>> joined = pending.close();
        for (CompletableFuture<Void> f : joined) {
            try {
                Io.join(f);
            } catch (BlockDeviceException e) {
                // that writer reports its own failure; the block is still sound
            }
        }
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

    /**
     * Holds block {@code block} against allocation while {@code body} unreferences it (a discard), waiting
     * for an allocation in progress first.
     */
    void holding(int block, BlockBody body) throws BlockDeviceException {
        PendingAllocation mine = PendingAllocation.closedMarker();
        PendingAllocation other;
        while ((other = allocating.putIfAbsent(block, mine)) != null) {
            other.published.handle((v, t) -> null).join();
        }
        try {
            body.run();
        } finally {
            allocating.remove(block, mine);
            mine.published.complete(false);
        }
    }

    interface BlockBody {
        void run() throws BlockDeviceException;
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
