package io.tapdisk4j.vhd;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.Requests;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A VHD image (fixed, dynamic or differencing) presented as a {@link BlockDevice} over any transport.
 *
 * <h2>Allocation and crash safety</h2>
 * A write into an unallocated block appends the block (bitmap then data) where the footer was, after the
 * transport has grown and a new footer has been written at its new end. The block becomes visible to readers
 * in memory at once; the BAT sector and changed bitmaps reach the transport at the next metadata write-back:
 * on {@link #flush()}, on a FUA write, on close, or after {@value #WRITEBACK_THRESHOLD} new blocks. Write-back
 * snapshots the dirty metadata, flushes the transport (the data and bitmaps it points to are durable), then
 * writes the BAT and bitmap sectors. A crash at any point therefore leaves a valid image: unreferenced space
 * at worst, and every write completed before a flush present.
 *
 * <h2>Concurrency</h2>
 * Requests run on virtual threads. Allocation of a block is serialised per block (a second writer waits for
 * the first allocation and then writes into the block); reservation of file space is serialised per image.
 *
 * <h2>Sector bitmaps</h2>
 * Reads and the allocation map follow each block's bitmap: a clear bit reads the parent (differencing) or
 * zeroes (dynamic). Dynamic disks mark every sector of a new block as present (its unwritten parts are zeroes,
 * as QEMU does); only a partial discard clears bits there, and it zeroes those sectors' data too, because QEMU
 * reads a dynamic block without looking at its bitmap. Bitmaps are loaded on first use and kept; an all-set
 * one is kept as one shared object, so a touched block costs memory only when some of its bits are clear.
 */
public final class VhdDevice implements BlockDevice {

    static final int WRITEBACK_THRESHOLD = 32;
    /** Growing the transport 32 blocks (64 MiB) at a time keeps resize calls (an NFS SETATTR) rare. */
    static final int GROW_BLOCKS = 32;

    private final BlockDevice transport;
    private final DeviceUri uri;
    private final boolean readOnly;
    private volatile VhdFooter footer;
    private volatile VhdDynamicHeader header;
    private volatile BlockAllocationTable bat;
    private final BlockDevice parent;
    private final DeviceUri parentUri;
    private final int blockSize;
    private final int bitmapBytes;
    /** The shared all-set bitmap (never written to: blocks whose bits get cleared get one of their own). */
    private final SectorBitmap fullBitmap;
    private final long metadataEnd;

    private final Object spaceLock = new Object();
    private long nextFree;
    private final long freshFrom;
    private final boolean preallocate;

    private final ConcurrentHashMap<Integer, PendingBlock> allocating = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Integer, SectorBitmap> bitmaps = new ConcurrentHashMap<>();
    private final ReentrantLock writebackLock = new ReentrantLock();
    private final ReentrantLock unalignedLock = new ReentrantLock();
    /** Requests hold it shared; resize holds it exclusively while it moves blocks and rewrites metadata. */
    private final ReentrantReadWriteLock structureLock = new ReentrantReadWriteLock();
    private final AtomicInteger unsyncedAllocations = new AtomicInteger();
    private volatile boolean closed;

    VhdDevice(BlockDevice transport, DeviceUri uri, boolean readOnly, VhdFooter footer, VhdDynamicHeader header,
              BlockAllocationTable bat, BlockDevice parent, DeviceUri parentUri, long nextFree, long metadataEnd) {
        this.transport = transport;
        this.uri = uri;
        this.readOnly = readOnly;
        this.footer = footer;
        this.header = header;
        this.bat = bat;
        this.parent = parent;
        this.parentUri = parentUri;
        this.blockSize = header == null ? 0 : header.blockSize();
        this.bitmapBytes = header == null ? 0 : header.bitmapBytes();
        this.fullBitmap = header == null ? null : SectorBitmap.full(blockSize);
        this.nextFree = nextFree;
        this.metadataEnd = metadataEnd;
        this.freshFrom = transport.size();
        // A local file's write-zeroes is fallocate(ZERO_RANGE): the space it reserves when the file grows spares
        // the file system its block allocation on every first write (measured: first writes 0.4 -> 0.6 of
        // rewrites). Elsewhere (NFS) write-zeroes may really write zeroes, so only local files do it.
        this.preallocate = transport.has(Capability.WRITE_ZEROES) && transport.describe().startsWith("file:");
    }

    public VhdFooter footer() {
        return footer;
    }

    /** The dynamic header, or null for a fixed disk. */
    public VhdDynamicHeader header() {
        return header;
    }

    public DiskType diskType() {
        return footer.diskType();
    }

    /** The opened parent (read-only), or null. */
    public BlockDevice parent() {
        return parent;
    }

    public DeviceUri parentUri() {
        return parentUri;
    }

    public DeviceUri uri() {
        return uri;
    }

    public BlockDevice transport() {
        return transport;
    }

    public int blockSize() {
        return blockSize;
    }

    /** Blocks allocated in this image (not its parents). */
    public int allocatedBlocks() {
        return bat == null ? 0 : bat.allocatedCount();
    }

    /** Where the next block would go: the end of the data (and the footer's place in an exactly sized file). */
    public long endOfData() {
        synchronized (spaceLock) {
            return nextFree;
        }
    }

    @Override
    public long size() {
        return footer.currentSize();
    }

    @Override
    public Set<Capability> capabilities() {
        EnumSet<Capability> c = EnumSet.of(Capability.FLUSH, Capability.FUA, Capability.WRITE_ZEROES,
                Capability.ALLOCATION);
        if (diskType() == DiskType.DYNAMIC || (diskType() == DiskType.FIXED && transport.has(Capability.DISCARD))) {
            c.add(Capability.DISCARD);
        }
        if (transport.has(Capability.RESIZE) || diskType() != DiskType.FIXED) {
            c.add(Capability.RESIZE);
        }
        if (readOnly) {
            c.add(Capability.READ_ONLY);
        }
        return c;
    }

    @Override
    public String describe() {
        return "vhd:" + transport.describe();
    }

    private int blockTotal() {
        return bitmapBytes + blockSize;
    }

    // ---------------------------------------------------------------- reads

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size());
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        if (closed) {
            return Requests.failed(BlockError.ESHUTDOWN, describe() + " is closed");
        }
        if (diskType() == DiskType.FIXED) {
            return transport.read(offset, length);
        }
        return Io.async(describe(), () -> {
            structureLock.readLock().lock();
            ByteBuf out = Buffers.direct(length);
            try {
                readInto(offset, length, out);
                return out;
            } catch (Throwable t) {
                out.release();
                throw t;
            } finally {
                structureLock.readLock().unlock();
            }
        });
    }

    private void readInto(long offset, int length, ByteBuf out) throws BlockDeviceException {
        List<CompletableFuture<ByteBuf>> pieces = new ArrayList<>();
        walk(offset, length, (at, bytes, fileAt) -> pieces.add(fileAt >= 0 ? transport.read(fileAt, bytes)
                : readBelow(at, bytes)));
        BlockDeviceException failure = null;
        for (CompletableFuture<ByteBuf> f : pieces) {
            try {
                ByteBuf b = Io.join(f);
                try {
                    if (failure == null) {
                        out.writeBytes(b, b.readerIndex(), b.readableBytes());
                    }
                } finally {
                    b.release();
                }
            } catch (BlockDeviceException e) {
                if (failure == null) {
                    failure = e;
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /** What lies under this image at a range: the parent's data, or zeroes (also beyond a smaller parent). */
    private CompletableFuture<ByteBuf> readBelow(long pos, int n) {
        if (parent == null || pos >= parent.size()) {
            return CompletableFuture.completedFuture(Buffers.zeroes(n));
        }
        if (pos + n <= parent.size()) {
            return parent.read(pos, n);
        }
        int inParent = (int) (parent.size() - pos);
        return parent.read(pos, inParent).thenApply(b -> {
            ByteBuf out = Buffers.direct(n);
            out.writeBytes(b, b.readerIndex(), inParent).writeZero(n - inParent);
            b.release();
            return out;
        });
    }

    private SectorBitmap bitmap(int block, long boff) throws BlockDeviceException {
        SectorBitmap bm = bitmaps.get(block);
        if (bm != null) {
            return bm;
        }
        byte[] bits = Io.read(transport, boff, bitmapBytes);
        SectorBitmap loaded = new SectorBitmap(bits, blockSize / 512);
        if (loaded.allSet()) {
            loaded = fullBitmap;
        }
        SectorBitmap raced = bitmaps.putIfAbsent(block, loaded);
        return raced != null ? raced : loaded;
    }

    /** The block's bitmap as an object of its own (never the shared all-set one), for clearing bits. */
    private SectorBitmap ownBitmap(int block, long boff) throws BlockDeviceException {
        while (true) {
            SectorBitmap bm = bitmap(block, boff);
            if (bm != fullBitmap) {
                return bm;
            }
            SectorBitmap own = SectorBitmap.full(blockSize);
            if (bitmaps.replace(block, fullBitmap, own)) {
                return own;
            }
        }
    }

    // ---------------------------------------------------------------- writes

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        int length = data.readableBytes();
        BlockDeviceException bad = readOnly ? new BlockDeviceException(BlockError.EROFS, describe() + " is read-only")
                : closed ? new BlockDeviceException(BlockError.ESHUTDOWN, describe() + " is closed")
                : Requests.checkRange(offset, length, size());
        if (bad != null) {
            data.release();
            return CompletableFuture.failedFuture(bad);
        }
        if (diskType() == DiskType.FIXED) {
            return transport.write(offset, data, fua);
        }
        return Io.async(describe(), () -> {
            try {
                structureLock.readLock().lock();
                try {
                    if (offset % 512 != 0 || length % 512 != 0) {
                        writeUnaligned(offset, data);
                    } else {
                        writeAligned(offset, data);
                    }
                } finally {
                    structureLock.readLock().unlock();
                }
            } finally {
                data.release();
            }
            if (fua) {
                flushSync();
            } else if (unsyncedAllocations.get() >= WRITEBACK_THRESHOLD) {
                unsyncedAllocations.set(0);
                Io.async(describe(), () -> {
                    writeBack();
                    return null;
                }).exceptionally(t -> {
                    // the metadata stays dirty and goes out with the next flush, which reports the error
                    org.slf4j.LoggerFactory.getLogger(VhdDevice.class).warn("{}: metadata write-back: {}",
                            describe(), t.getMessage());
                    return null;
                });
            }
            return null;
        });
    }

    /** Read-modify-write of the sectors around an unaligned write (rare: frontends send whole sectors). */
    private void writeUnaligned(long offset, ByteBuf data) throws BlockDeviceException {
        long start = offset / 512 * 512;
        long end = Math.min(size(), (offset + data.readableBytes() + 511) / 512 * 512);
        unalignedLock.lock();
        try {
            ByteBuf whole = Buffers.direct((int) (end - start));
            try {
                readInto(start, (int) (end - start), whole);
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
        eachBlock(offset, length, (block, in, n, pos) -> {
            ByteBuf slice = data.retainedSlice(data.readerIndex() + (int) (pos - offset), n);
            if (n == length) {
                writeInBlock(block, in, slice); // one block: no extra thread
            } else {
                parts.add(Io.async(describe(), () -> {
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
        try {
            while (true) {
                long boff = bat.offset(block);
                if (boff >= 0) {
                    int sectors = slice.readableBytes() / 512;
                    Io.join(transport.write(boff + bitmapBytes + in, slice.retain(), false));
                    SectorBitmap bm = bitmap(block, boff);
                    if (bm != fullBitmap) {
                        bm.set(in / 512, sectors); // readers see the data once its bits are set
                    }
                    return;
                }
                PendingBlock mine = new PendingBlock(SectorBitmap.empty(blockSize));
                PendingBlock other = allocating.putIfAbsent(block, mine);
                if (other != null) {
                    if (joinAllocation(other, in, slice)) {
                        return;
                    }
                    continue;
                }
                boolean published = false;
                try {
                    if (!bat.allocated(block)) {
                        allocate(block, in, slice.retain(), mine);
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
     * A block being allocated by another request. Sequential writers would otherwise queue behind each
     * allocation: once the block's place is reserved (and it needs no zeroing), writes into it go out
     * concurrently with the allocating one, and the block is published only after all of them. Returns false
     * when the caller must start over (the block was published without this write, or allocation failed).
     */
    private boolean joinAllocation(PendingBlock pending, int in, ByteBuf slice) throws BlockDeviceException {
        long p = pending.placed.handle((v, t) -> t == null ? v : -1L).join();
        CompletableFuture<Void> done = p < 0 ? null : pending.join(in / 512, slice.readableBytes() / 512);
        if (done == null) {
            pending.published.handle((v, t) -> null).join();
            return false;
        }
        try {
            Io.join(transport.write(p + bitmapBytes + in, slice.retain(), false));
            done.complete(null);
        } catch (Throwable e) {
            done.completeExceptionally(e); // the allocating request waits for this one
            throw e;
        }
        // complete only once readers can see the block; if it never gets published, write again
        return pending.published.handle((v, t) -> t == null && v).join();
    }

    /** A block whose allocation is in progress: where it goes, and the writes that joined it. */
    private static final class PendingBlock {
        /** The block's offset once reserved; -1 when it cannot be joined. */
        final CompletableFuture<Long> placed = new CompletableFuture<>();
        /** True once the block is in the BAT (with every joined write), false when allocation failed. */
        final CompletableFuture<Boolean> published = new CompletableFuture<>();
        final SectorBitmap bitmap;
        private final List<CompletableFuture<Void>> joined = new ArrayList<>();
        private boolean closed;

        PendingBlock(SectorBitmap bitmap) {
            this.bitmap = bitmap;
        }

        synchronized CompletableFuture<Void> join(int sector, int count) {
            if (closed) {
                return null;
            }
            bitmap.set(sector, count);
            CompletableFuture<Void> f = new CompletableFuture<>();
            joined.add(f);
            return f;
        }

        /** No more joiners; the writes that joined. */
        synchronized List<CompletableFuture<Void>> close() {
            closed = true;
            return List.copyOf(joined);
        }
    }

    /** Appends block {@code block} holding {@code data} at {@code in}; takes over {@code data}. */
    private void allocate(int block, int in, ByteBuf data, PendingBlock pending) throws BlockDeviceException {
        long p;
        try {
            p = reserveBlock();
        } catch (BlockDeviceException e) {
            data.release();
            throw e;
        }
        int len = data.readableBytes();
        SectorBitmap bm = pending.bitmap;
        if (diskType() == DiskType.DIFFERENCING) {
            bm.set(in / 512, len / 512);
        } else {
            bm.set(0, blockSize / 512);
        }
        long dataStart = p + bitmapBytes;
        boolean fresh = dataStart >= freshFrom;
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
        zeroBelowFresh(io, dataStart + in + len, dataStart + blockSize);
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
        bitmaps.put(block, diskType() == DiskType.DIFFERENCING ? bm : fullBitmap);
        bat.set(block, p);
        unsyncedAllocations.incrementAndGet();
    }

    private void zeroBelowFresh(List<CompletableFuture<Void>> io, long from, long to) {
        long hi = Math.min(to, freshFrom);
        if (hi > from) {
            io.add(Io.zero(transport, from, hi - from));
        }
    }

    /**
     * Reserves file space for one block at the end of the data, growing the transport (and moving the
     * footer to its new end) when needed. A transport that cannot grow bounds the image.
     */
    private long reserveBlock() throws BlockDeviceException {
        synchronized (spaceLock) {
            long p = nextFree;
            long need = p + blockTotal() + VhdFooter.SIZE;
            long size = transport.size();
            if (need > size) {
                if (!transport.has(Capability.RESIZE)) {
                    throw new BlockDeviceException(BlockError.ENOSPC, describe() + ": no room for another "
                            + blockSize / 1024 + " KiB block in " + size + " bytes of storage");
                }
                long newSize = p + (long) GROW_BLOCKS * blockTotal() + VhdFooter.SIZE;
                Io.join(transport.resize(newSize));
                if (preallocate) {
                    Io.join(transport.writeZeroes(size, newSize - VhdFooter.SIZE - size, false));
                }
                Io.write(transport, newSize - VhdFooter.SIZE, footer.encode());
                if (size - VhdFooter.SIZE >= p) {
                    // the old footer now lies in space blocks will use: it must read as zeroes
                    Io.join(Io.zero(transport, size - VhdFooter.SIZE, VhdFooter.SIZE));
                }
            }
            nextFree = p + blockTotal();
            return p;
        }
    }

    // ---------------------------------------------------------------- metadata write-back

    @Override
    public CompletableFuture<Void> flush() {
        if (readOnly || diskType() == DiskType.FIXED) {
            return readOnly ? CompletableFuture.completedFuture(null) : transport.flush();
        }
        return Io.async(describe(), () -> {
            flushSync();
            return null;
        });
    }

    private void flushSync() throws BlockDeviceException {
        writeBack();
        Io.join(transport.flush());
    }

    /**
     * Writes dirty BAT sectors and bitmaps behind a flush of the data they describe. The snapshot is taken
     * before the flush, so nothing written after the flush started is described before it is durable.
     */
    void writeBack() throws BlockDeviceException {
        if (readOnly || bat == null) {
            return;
        }
        writebackLock.lock();
        try {
            unsyncedAllocations.set(0);
            List<Map.Entry<Long, byte[]>> writes = new ArrayList<>();
            List<SectorBitmap> taken = new ArrayList<>();
            for (Map.Entry<Integer, SectorBitmap> e : bitmaps.entrySet()) {
                SectorBitmap bm = e.getValue();
                if (bm.dirty()) {
                    long boff = bat.offset(e.getKey());
                    if (boff >= 0) {
                        taken.add(bm);
                        writes.add(Map.entry(boff, bm.snapshotForWrite()));
                    }
                }
            }
            List<Map.Entry<Integer, byte[]>> batSectors = bat.takeDirty();
            for (Map.Entry<Integer, byte[]> s : batSectors) {
                writes.add(Map.entry(header.tableOffset() + (long) s.getKey() * 512, s.getValue()));
            }
            if (writes.isEmpty()) {
                return;
            }
            try {
                Io.join(transport.flush());
                List<CompletableFuture<Void>> io = new ArrayList<>();
                for (Map.Entry<Long, byte[]> w : writes) {
                    io.add(Io.writeAsync(transport, w.getKey(), w.getValue()));
                }
                for (CompletableFuture<Void> f : io) {
                    Io.join(f);
                }
            } catch (BlockDeviceException e) {
                taken.forEach(SectorBitmap::markDirty);
                batSectors.forEach(s -> bat.markDirty(s.getKey()));
                throw e;
            }
        } finally {
            writebackLock.unlock();
        }
    }

    // ---------------------------------------------------------------- discard, zeroes, allocation

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        BlockDeviceException bad = checkWritable(offset, length);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        if (secure) {
            return Requests.failed(BlockError.ENOTSUP, describe() + ": secure discard is not supported");
        }
        return switch (diskType()) {
            case FIXED -> transport.has(Capability.DISCARD) ? transport.discard(offset, length, false)
                    : CompletableFuture.completedFuture(null);
            case DYNAMIC -> Io.async(describe(), () -> {
                discardDynamic(offset, length);
                return null;
            });
            // A clear bit in a differencing disk means "read the parent": clearing bits would bring back the
            // parent's older data, not zeroes, so discard leaves a differencing disk as it is.
            case DIFFERENCING -> CompletableFuture.completedFuture(null);
        };
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        BlockDeviceException bad = checkWritable(offset, length);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        if (diskType() == DiskType.FIXED) {
            return Io.zero(transport, offset, length);
        }
        return Io.async(describe(), () -> {
            boolean dynamic = diskType() == DiskType.DYNAMIC;
            eachBlock(offset, length, (block, in, n, pos) -> {
                if (dynamic && bat.offset(block) < 0) {
                    return; // already zeroes
                }
                if (dynamic && mayUnmap && n == blockSize) {
                    dropWholeBlocks(pos, n);
                } else if (dynamic && mayUnmap && pos % 512 == 0 && n % 512 == 0) {
                    discardInBlock(block, in, n);
                } else {
                    zeroByWriting(pos, n);
                }
            });
            return null;
        });
    }

    /** Writes zero buffers over a range through the normal write path (allocating where needed). */
    private void zeroByWriting(long pos, long n) throws BlockDeviceException {
        int chunk = 1 << 20;
        for (long done = 0; done < n; done += chunk) {
            int k = (int) Math.min(chunk, n - done);
            ByteBuf z = Buffers.zeroes(k);
            try {
                structureLock.readLock().lock();
                try {
                    if (((pos + done) % 512) != 0 || k % 512 != 0) {
                        writeUnaligned(pos + done, z);
                    } else {
                        writeAligned(pos + done, z);
                    }
                } finally {
                    structureLock.readLock().unlock();
                }
            } finally {
                z.release();
            }
        }
    }

    /**
     * Discard on a dynamic disk. Whole blocks are unreferenced and their space given back. Within a block the
     * whole sectors of the range are zeroed (punched where the transport can) and their bits cleared, so they
     * read as zeroes whoever reads: QEMU ignores the bitmap of a dynamic disk, and sets all of a block's bits
     * when it writes into it. The cleared bitmap goes out at the next write-back, after a flush of the zeroes.
     * A block left with no bit set is unreferenced like a whole one.
     */
    private void discardDynamic(long offset, long length) throws BlockDeviceException {
        eachBlock(offset, length, (block, in, n, pos) -> {
            if (n == blockSize) {
                dropWholeBlocks(pos, n);
            } else {
                discardInBlock(block, in, n);
            }
        });
    }

    /** The whole sectors of {@code [in, in + n)} in a dynamic block: zeroed and cleared (see discardDynamic). */
    private void discardInBlock(int block, int in, int n) throws BlockDeviceException {
        int first = (in + 511) / 512;
        int last = (in + n) / 512;
        if (last <= first) {
            return;
        }
        long boff;
        SectorBitmap bm;
        structureLock.readLock().lock();
        try {
            boff = bat.offset(block);
            if (boff < 0) {
                return; // reads as zeroes already
            }
            long at = boff + bitmapBytes + (long) first * 512;
            long len = (long) (last - first) * 512;
            Io.join(transport.has(Capability.WRITE_ZEROES) ? transport.writeZeroes(at, len, true)
                    : Io.zero(transport, at, len));
            bm = ownBitmap(block, boff);
            bm.clear(first, last - first);
            if (bm.anySet()) {
                return;
            }
        } finally {
            structureLock.readLock().unlock();
        }
        // Empty: give the block back. Writes hold the structure lock shared from data to bits, so with it held
        // exclusively a write elsewhere in this block cannot slip in between the test and the unreferencing.
        structureLock.writeLock().lock();
        try {
            if (bat.offset(block) == boff && bitmaps.get(block) == bm && !bm.anySet()) {
                dropWholeBlocks((long) block * blockSize, blockSize);
            }
        } finally {
            structureLock.writeLock().unlock();
        }
    }

    /** Unreferences the blocks wholly inside a range (dynamic disks), then lets the transport free them. */
    private void dropWholeBlocks(long offset, long length) throws BlockDeviceException {
        long first = (offset + blockSize - 1) / blockSize;
        long last = (offset + length) / blockSize; // exclusive
        structureLock.readLock().lock();
        try {
            for (long b = first; b < last; b++) {
                int block = (int) b;
                PendingBlock mine = new PendingBlock(SectorBitmap.empty(blockSize));
                mine.close();
                mine.placed.complete(-1L);
                PendingBlock other;
                while ((other = allocating.putIfAbsent(block, mine)) != null) {
                    other.published.handle((v, t) -> null).join();
                }
                try {
                    long boff = bat.offset(block);
                    if (boff < 0) {
                        continue;
                    }
                    bat.set(block, -1);
                    bitmaps.remove(block);
                    // the unreferencing BAT sector goes out (and is durable) before the space is punched
                    writeBack();
                    Io.join(transport.flush());
                    if (transport.has(Capability.DISCARD)) {
                        try {
                            Io.join(transport.discard(boff, blockTotal(), false));
                        } catch (BlockDeviceException ignored) {
                            // the space stays allocated in the file: harmless
                        }
                    }
                } finally {
                    allocating.remove(block, mine);
                    mine.published.complete(false);
                }
            }
        } finally {
            structureLock.readLock().unlock();
        }
    }

    private BlockDeviceException checkWritable(long offset, long length) {
        if (readOnly) {
            return new BlockDeviceException(BlockError.EROFS, describe() + " is read-only");
        }
        if (closed) {
            return new BlockDeviceException(BlockError.ESHUTDOWN, describe() + " is closed");
        }
        return Requests.checkRange(offset, length, size());
    }

    @Override
    public CompletableFuture<List<Extent>> allocation(long offset, long length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size());
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        if (length == 0) {
            return CompletableFuture.completedFuture(List.of());
        }
        if (diskType() == DiskType.FIXED) {
            return transport.allocation(offset, length);
        }
        return Io.async(describe(), () -> {
            List<Extent> out = new ArrayList<>();
            chainAllocation(offset, length, out, true);
            return out;
        });
    }

    @Override
    public CompletableFuture<List<io.tapdisk4j.block.BlockStatus>> allocationDepth(long offset, long length) {
        return VhdAllocationDepth.of(this, offset, length);
    }

    /**
     * This image's own allocation (sectors it holds, not its parents'): data extents, and holes for the rest.
     * What a coalesce or a copy of one layer reads.
     */
    public List<Extent> layerAllocation(long offset, long length) throws BlockDeviceException {
        BlockDeviceException bad = Requests.checkRange(offset, length, size());
        if (bad != null) {
            throw bad;
        }
        List<Extent> out = new ArrayList<>();
        if (length > 0) {
            if (diskType() == DiskType.FIXED) {
                add(out, Extent.data(offset, length));
            } else {
                chainAllocation(offset, length, out, false);
            }
        }
        return out;
    }

    private void chainAllocation(long offset, long length, List<Extent> out, boolean withParent)
            throws BlockDeviceException {
        walk(offset, length, (at, bytes, fileAt) -> {
            if (fileAt >= 0) {
                add(out, Extent.data(at, bytes));
            } else {
                below(at, bytes, out, withParent);
            }
        });
    }

    /** A block's part of a range: the block, the offset in it, the bytes, and the offset on the disk. */
    private interface BlockPart {
        void accept(int block, int in, int n, long pos) throws BlockDeviceException;
    }

    /** Calls {@code part} for each block's part of {@code [offset, offset + length)}, in order. */
    private void eachBlock(long offset, long length, BlockPart part) throws BlockDeviceException {
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int in = (int) (pos % blockSize);
            int n = (int) Math.min(blockSize - in, end - pos);
            part.accept((int) (pos / blockSize), in, n, pos);
            pos += n;
        }
    }

    /** A run of bytes at disk offset {@code at}: in the file at {@code fileAt}, or -1 when this image lacks it. */
    private interface Run {
        void accept(long at, int bytes, long fileAt) throws BlockDeviceException;
    }

    /**
     * Walks a range through the BAT and the sector bitmaps, in order: runs this image holds (with their place
     * in the file) and runs it does not (the parent's, or zeroes).
     */
    private void walk(long offset, long length, Run run) throws BlockDeviceException {
        eachBlock(offset, length, (block, in, n, pos) -> {
            long boff = bat.offset(block);
            SectorBitmap bm = boff < 0 ? null : bitmap(block, boff);
            if (boff < 0) {
                run.accept(pos, n, -1);
            } else if (bm == fullBitmap) {
                run.accept(pos, n, boff + bitmapBytes + in);
            } else {
                int p = in;
                int stop = in + n;
                while (p < stop) {
                    int sector = p / 512;
                    boolean here = bm.isSet(sector);
                    int bytes = Math.min(stop - p, (sector + bm.run(sector, (stop + 511) / 512 - sector)) * 512 - p);
                    run.accept((long) block * blockSize + p, bytes, here ? boff + bitmapBytes + p : -1);
                    p += bytes;
                }
            }
        });
    }

    private void below(long pos, long n, List<Extent> out, boolean withParent) throws BlockDeviceException {
        if (!withParent || parent == null || pos >= parent.size()) {
            add(out, Extent.hole(pos, n));
            return;
        }
        long inParent = Math.min(n, parent.size() - pos);
        long p = pos;
        while (p < pos + inParent) {
            List<Extent> got = Io.join(parent.allocation(p, pos + inParent - p));
            if (got.isEmpty()) {
                add(out, Extent.data(p, pos + inParent - p));
                break;
            }
            for (Extent e : got) {
                add(out, e);
                p = e.end();
            }
        }
        if (inParent < n) {
            add(out, Extent.hole(pos + inParent, n - inParent));
        }
    }

    private static void add(List<Extent> out, Extent e) {
        if (!out.isEmpty()) {
            Extent last = out.getLast();
            if (last.end() == e.offset() && last.hole() == e.hole() && last.zero() == e.zero()) {
                out.set(out.size() - 1, new Extent(last.offset(), last.length() + e.length(), e.hole(), e.zero()));
                return;
            }
        }
        out.add(e);
    }

    // ---------------------------------------------------------------- resize

    @Override
    public CompletableFuture<Void> resize(long newSize) {
        if (readOnly) {
            return Requests.failed(BlockError.EROFS, describe() + " is read-only");
        }
        return Io.async(describe(), () -> {
            resizeSync(newSize);
            return null;
        });
    }

    /** Grows the virtual disk; shrinking is refused (see {@link #resizeSync(long, boolean)}). */
    void resizeSync(long newSize) throws BlockDeviceException {
        resizeSync(newSize, false);
    }

    /**
     * Changes the virtual size. Growing: a sparse disk whose BAT is too small for the new size gets a larger
     * BAT (the data blocks in the way are first copied to the end of the file: copy, flush, repoint, flush,
     * then the table grows into the freed space); a differencing disk that was once shrunk below its parent's
     * size is zero-filled up to that size again, so the parent's older data does not reappear. Shrinking cuts
     * off data, so only when {@code allowShrink} says so ({@code vdi resize --shrink}, like
     * {@code qemu-img resize --shrink}); see {@link #shrink}.
     */
    void resizeSync(long newSize, boolean allowShrink) throws BlockDeviceException {
        long old = size();
        if (newSize == old) {
            return;
        }
        if (newSize < old && !allowShrink) {
            throw new BlockDeviceException(BlockError.EINVAL, describe() + ": shrinking a VHD (" + old + " to "
                    + newSize + " bytes) cuts off the data beyond the new end; refused unless asked for (--shrink)");
        }
        if (newSize <= 0 || newSize % 512 != 0) {
            throw new BlockDeviceException(BlockError.EINVAL, describe() + ": size must be a positive multiple of 512");
        }
        if (diskType() != DiskType.FIXED && newSize > VhdFooter.MAX_SIZE) {
            throw new BlockDeviceException(BlockError.EFBIG, describe() + ": " + newSize
                    + " bytes is beyond the VHD format's limit of 2040 GiB");
        }
        structureLock.writeLock().lock();
        try {
            if (newSize < old) {
                shrink(newSize);
                return;
            }
            if (diskType() == DiskType.FIXED) {
                Io.join(transport.resize(newSize + VhdFooter.SIZE));
                VhdFooter f = footer.withCurrentSize(newSize);
                Io.write(transport, newSize, f.encode());
                footer = f;
                Io.join(Io.zero(transport, old, Math.min(VhdFooter.SIZE, newSize - old)));
                Io.join(transport.flush());
                return;
            }
            writeBack();
            long needed = (newSize + blockSize - 1) / blockSize;
            if (needed > header.maxTableEntries()) {
                growTable((int) needed);
            }
            writeFooter(footer.withCurrentSize(newSize));
        } finally {
            structureLock.writeLock().unlock();
        }
        if (parent != null && parent.size() > old) {
            // A crash before this is done leaves the parent's data visible there: older data of the same disk.
            zeroByWriting(old, Math.min(newSize, parent.size()) - old);
            flushSync();
        }
    }

    /** The footer at the end of the file, then its copy at 0 (which readers use), each behind a flush. */
    private void writeFooter(VhdFooter f) throws BlockDeviceException {
        Io.join(transport.flush());
        Io.write(transport, transport.size() - VhdFooter.SIZE, f.encode());
        Io.join(transport.flush());
        Io.write(transport, 0, f.encode());
        Io.join(transport.flush());
        footer = f;
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
        if (diskType() == DiskType.FIXED) {
            VhdFooter f = footer.withCurrentSize(newSize);
            Io.write(transport, newSize, f.encode());
            Io.join(transport.flush());
            Io.join(transport.resize(newSize + VhdFooter.SIZE));
            footer = f;
            Io.join(transport.flush());
            return;
        }
        writeBack();
        int keep = (int) ((newSize + blockSize - 1) / blockSize);
        long keptEnd = Math.min((long) keep * blockSize, size());
        if (newSize < keptEnd && bat.allocated(keep - 1)) {
            zeroByWriting(newSize, keptEnd - newSize);
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
        writeBack();
        writeFooter(footer.withCurrentSize(newSize));
        VhdDynamicHeader h = header.withTable(header.tableOffset(), keep);
        Io.write(transport, footer.dataOffset(), h.encode());
        Io.join(transport.flush());
        header = h;
        bat = bat.resized(keep);
        long end = (metadataEnd + 511) / 512 * 512;
        for (int i = 0; i < keep; i++) {
            long boff = bat.offset(i);
            if (boff >= 0) {
                end = Math.max(end, boff + blockTotal());
            }
        }
        synchronized (spaceLock) {
            nextFree = end;
        }
        if (transport.has(Capability.DISCARD)) {
            for (long boff : dropped) {
                if (boff < end) {
                    try {
                        Io.join(transport.discard(boff, blockTotal(), false));
                    } catch (BlockDeviceException ignored) {
                        // the space stays allocated in the file: harmless
                    }
                }
            }
        }
        trim();
        Io.join(transport.flush());
    }

    private void growTable(int entries) throws BlockDeviceException {
        if (entries > VhdDynamicHeader.MAX_TABLE_ENTRIES) {
            throw new BlockDeviceException(BlockError.EFBIG, describe() + ": BAT of " + entries + " entries is too large");
        }
        long table = header.tableOffset();
        long newEnd = table + BlockAllocationTable.bytesOnDisk(entries);
        long oldEnd = table + BlockAllocationTable.bytesOnDisk(header.maxTableEntries());
        // locators after the BAT would be overwritten: move the table itself to the end instead
        boolean locatorsAfter = header.locators().stream()
                .anyMatch(l -> !l.isEmpty() && l.dataOffset() >= oldEnd && l.dataOffset() < newEnd);
        BlockAllocationTable grown = bat.resized(entries);
        if (locatorsAfter) {
            long at;
            synchronized (spaceLock) {
                at = nextFree;
                long need = at + BlockAllocationTable.bytesOnDisk(entries);
                nextFree = need;
                ensureSize(need + VhdFooter.SIZE);
            }
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
                    long to = reserveBlock();
                    ByteBuf whole = Io.join(transport.read(boff, blockTotal()));
                    Io.join(transport.write(to, whole, false));
                    Io.join(transport.flush());
                    bat.set(i, to);
                    grown.set(i, to);
                    writeBack();
                    Io.join(transport.flush());
                }
            }
            Io.write(transport, table, grown.encode());
            Io.join(transport.flush());
        }
        VhdDynamicHeader h = header.withTable(table, entries);
        Io.write(transport, footer.dataOffset(), h.encode());
        Io.join(transport.flush());
        header = h;
        bat = grown;
    }

    private void ensureSize(long need) throws BlockDeviceException {
        long size = transport.size();
        if (need > size) {
            if (!transport.has(Capability.RESIZE)) {
                throw new BlockDeviceException(BlockError.ENOSPC, describe() + ": storage too small");
            }
            Io.join(transport.resize(need));
            Io.write(transport, need - VhdFooter.SIZE, footer.encode());
        }
    }

    // ---------------------------------------------------------------- close

    @Override
    public void close() {
        if (closed) {
            return;
        }
        try {
            if (!readOnly && diskType() != DiskType.FIXED) {
                structureLock.writeLock().lock();
                try {
                    writeBack();
                    trim();
                    Io.join(transport.flush());
                } catch (BlockDeviceException e) {
                    org.slf4j.LoggerFactory.getLogger(VhdDevice.class).warn("{}: closing: {}", describe(), e.getMessage());
                } finally {
                    structureLock.writeLock().unlock();
                }
            }
        } finally {
            closed = true;
            try {
                if (parent != null) {
                    parent.close();
                }
            } finally {
                transport.close();
            }
        }
    }

    /** Gives back the slack the transport grew by in steps: footer at the end of the data, then truncate. */
    private void trim() throws BlockDeviceException {
        long end;
        synchronized (spaceLock) {
            end = nextFree;
        }
        long size = transport.size();
        if (transport.has(Capability.RESIZE) && size > end + VhdFooter.SIZE) {
            Io.write(transport, end, footer.encode());
            Io.join(transport.flush());
            Io.join(transport.resize(end + VhdFooter.SIZE));
        }
    }

    /** Forgets every block of this layer, once a coalesce has put its data into the parent. */
    void emptyLayer() throws BlockDeviceException {
        if (readOnly || bat == null) {
            throw new BlockDeviceException(BlockError.EROFS, describe() + ": cannot empty a read-only or fixed image");
        }
        structureLock.writeLock().lock();
        try {
            writeBack();
            Io.join(transport.flush());
            for (int i = 0; i < bat.size(); i++) {
                if (bat.allocated(i)) {
                    bat.set(i, -1);
                }
            }
            bitmaps.clear();
            writeBack();
            Io.join(transport.flush());
            synchronized (spaceLock) {
                nextFree = (metadataEnd + 511) / 512 * 512;
            }
            trim();
            Io.join(transport.flush());
        } finally {
            structureLock.writeLock().unlock();
        }
    }

    long metadataEnd() {
        return metadataEnd;
    }
}
