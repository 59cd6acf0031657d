package io.tapdisk4j.block.local;

import io.netty.buffer.ByteBuf;
import io.netty.channel.DefaultFileRegion;
import io.netty.channel.FileRegion;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.FileRegionReads;
import io.tapdisk4j.block.Requests;
import io.tapdisk4j.block.Writes;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A raw image in a local file (or a block device node). Positional I/O runs on a small shared pool of
 * platform threads (a blocking native call would pin a virtual thread's carrier); reads the page cache
 * already holds are served on the caller's thread (preadv2 RWF_NOWAIT). With O_DIRECT, requests
 * that are not 4 KiB-aligned go through a second, buffered descriptor rather than failing. Ranges wholly
 * in the page cache are also offered as file regions ({@link FileRegionReads}), which a network frontend
 * sends with sendfile instead of reading them into a buffer first (not with O_DIRECT, which keeps this
 * device's data out of the page cache).
 */
public final class FileDevice implements BlockDevice, FileRegionReads, io.tapdisk4j.block.RangeCopy,
        io.tapdisk4j.block.EarlyWriteback {

    private static final ExecutorService IO = Executors.newFixedThreadPool(
            Math.max(4, 2 * Runtime.getRuntime().availableProcessors()), new DaemonThreads("tapdisk4j-file"));

    private final String path;
    private final LinuxFile file;
    private final LinuxFile direct;
    private final boolean readOnly;
    private volatile long size;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final WritebackTrigger writeback;
    /** The descriptor file regions send from: Netty's sendfile takes it from a FileChannel. Opened on first use. */
    private volatile FileChannel regionChannel;
    private volatile boolean regionsUnavailable;

    private FileDevice(String path, LinuxFile file, LinuxFile direct, boolean readOnly, long writebackEvery)
            throws BlockDeviceException {
        this.path = path;
        this.writeback = new WritebackTrigger(direct == null && !readOnly ? writebackEvery : 0);
        this.file = file;
        this.direct = direct;
        this.readOnly = readOnly;
        this.size = file.size();
    }

    public static FileDevice open(String path, boolean readOnly, boolean directIo) throws BlockDeviceException {
        return open(path, readOnly, directIo, WritebackTrigger.DEFAULT_EVERY);
    }

    /**
     * {@code writebackEvery}: bytes of buffered writes after which their writeback to the disk starts (0: when the
     * kernel decides, past vm.dirty_background_ratio); see {@link WritebackTrigger}.
     */
    public static FileDevice open(String path, boolean readOnly, boolean directIo, long writebackEvery)
            throws BlockDeviceException {
        int flags = readOnly ? LinuxFile.O_RDONLY : LinuxFile.O_RDWR;
        LinuxFile f = LinuxFile.open(path, flags, 0);
        LinuxFile d = null;
        try {
            if (!readOnly) {
                WriterLock.acquire(f, path);
            }
            if (directIo) {
                d = openDirect(path, flags);
            }
            return new FileDevice(path, f, d, readOnly, writebackEvery);
        } catch (BlockDeviceException e) {
            f.close();
            if (d != null) {
                d.close();
            }
            throw e;
        }
    }

    /**
     * The O_DIRECT descriptor, or null where the file system refuses O_DIRECT (EINVAL: tmpfs before Linux 6.6,
     * procfs): the device then goes through the page cache, as requests that are not aligned do anyway; a copy
     * onto tmpfs must not fail for asking to skip a cache that is the storage itself.
     */
    private static LinuxFile openDirect(String path, int flags) throws BlockDeviceException {
        try {
            return LinuxFile.open(path, flags | LinuxFile.O_DIRECT, 0);
        } catch (BlockDeviceException e) {
            if (e.error() != BlockError.EINVAL) {
                throw e;
            }
            return null;
        }
    }

    /** Whether this device has an O_DIRECT descriptor (for tests). */
    boolean directIo() {
        return direct != null;
    }

    @Override
    public boolean copyRangeTo(BlockDevice target, long offset, long length) throws BlockDeviceException {
        // Not onto a file opened for direct I/O: the kernel's copy would go through its page cache after all.
        if (!(target instanceof FileDevice f) || f.readOnly || f.direct != null || offset < 0 || length < 0
                || offset + length > size || offset + length > f.size) {
            return false;
        }
        if (!file.copyRangeTo(f.file, offset, length)) {
            return false;
        }
        // The copy lands in the page cache: start its writeback now, so that the flush ending the copy does
        // not write the whole image at once (vdi copy of 1 GiB between two files, 6 alternating runs: 1.11 s
        // against 1.44 s). Writes through buffers get it only from a caller that knows they are done
        // (EarlyWriteback): sync_file_range after every write, beside pwrites still in flight on the same file,
        // spun on the inode lock (iSCSI to a file: 6 s of system time instead of 0.6 s).
        f.startWriteback(offset, length);
        return true;
    }

    @Override
    public void startWriteback(long offset, long length) {
        writeback.callerHints();
        if (direct == null && !readOnly) { // O_DIRECT writes are on the disk already
            file.startWriteback(offset, length); // a hint: its result is not checked, the flush writes the range anyway
        }
    }

    /** Creates a new sparse file of {@code size} bytes; refuses to overwrite an existing one. */
    public static FileDevice create(String path, long size) throws BlockDeviceException {
        return create(path, size, false, WritebackTrigger.DEFAULT_EVERY);
    }

    /** {@link #create(String, long)}, opened as {@link #open(String, boolean, boolean, long)} opens. */
    public static FileDevice create(String path, long size, boolean directIo, long writebackEvery)
            throws BlockDeviceException {
        try (LinuxFile f = LinuxFile.open(path, LinuxFile.O_RDWR | LinuxFile.O_CREAT | LinuxFile.O_EXCL, 0644)) {
            f.truncate(size);
        }
        return open(path, false, directIo, writebackEvery);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public Set<Capability> capabilities() {
        EnumSet<Capability> caps = EnumSet.of(Capability.FLUSH, Capability.FUA, Capability.ALLOCATION,
                Capability.DISCARD, Capability.DISCARD_ZEROES, Capability.WRITE_ZEROES,
                Capability.MULTI_HANDLE_CONSISTENT, Capability.RESIZE);
        if (readOnly) {
            caps.add(Capability.READ_ONLY);
        }
        return caps;
    }

    private LinuxFile fdFor(long offset, long length, MemorySegment seg) {
        if (direct != null && offset % Buffers.IO_ALIGNMENT == 0 && length % Buffers.IO_ALIGNMENT == 0
                && seg.address() % Buffers.IO_ALIGNMENT == 0) {
            return direct;
        }
        return file;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        ByteBuf buf = Buffers.direct(length);
        MemorySegment seg = MemorySegment.ofBuffer(buf.nioBuffer(0, length));
        long cached = 0;
        if (direct == null) {
            // Data in the page cache is read right here: no hand-off to the I/O threads, no wake-up.
            try {
                cached = file.readCached(seg, offset);
            } catch (BlockDeviceException e) {
                buf.release();
                return CompletableFuture.failedFuture(e);
            }
            if (cached == length) {
                buf.writerIndex(length);
                return CompletableFuture.completedFuture(buf);
            }
        }
        long done = cached;
        return submit(() -> {
            try {
                MemorySegment rest = seg.asSlice(done);
                fdFor(offset + done, rest.byteSize(), rest).readFully(rest, offset + done);
                buf.writerIndex(length);
                return buf;
            } catch (Throwable t) {
                buf.release();
                throw t;
            }
        });
    }

    @Override
    public FileRegion readRegion(long offset, int length) {
        if (direct != null || regionsUnavailable || length <= 0 || Requests.checkRange(offset, length, size) != null
                || !file.cached(offset, length)) {
            return null;
        }
        FileChannel ch = regionChannel();
        return ch == null ? null : new SharedFileRegion(ch, offset, length);
    }

    private FileChannel regionChannel() {
        FileChannel ch = regionChannel;
        if (ch == null) {
            synchronized (this) {
                ch = regionChannel;
                if (ch == null && !regionsUnavailable) {
                    try {
                        // Through the open descriptor, not the path: the file may have been renamed or replaced since.
                        ch = FileChannel.open(Path.of("/proc/self/fd/" + file.descriptor()), StandardOpenOption.READ);
                        regionChannel = ch;
                    } catch (IOException | RuntimeException e) {
                        regionsUnavailable = true; // reads still work through read()
                    }
                }
            }
        }
        return ch;
    }

    /**
     * A region of the device's shared channel: releasing it must not close the channel (Netty's own region
     * closes its file when released, as it assumes one file per region).
     */
    private static final class SharedFileRegion extends DefaultFileRegion {
        SharedFileRegion(FileChannel channel, long position, long count) {
            super(channel, position, count);
        }

        @Override
        protected void deallocate() {
        }
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        int length = data.readableBytes();
        CompletableFuture<Void> refused = Writes.refuse(this, readOnly, offset, data, size);
        if (refused != null) {
            return refused;
        }
        return submit(() -> {
            try {
                if (data.isDirect()) {
                    // A composite (several pages, several pooled buffers) is written piece by piece: asking it
                    // for one NIO buffer would merge it into a new heap buffer.
                    long pos = offset;
                    for (java.nio.ByteBuffer part : data.nioBuffers(data.readerIndex(), length)) {
                        MemorySegment seg = MemorySegment.ofBuffer(part);
                        fdFor(pos, seg.byteSize(), seg).writeFully(seg, pos);
                        pos += seg.byteSize();
                    }
                } else {
                    ByteBuf src = Buffers.direct(length).writeBytes(data, data.readerIndex(), length);
                    try {
                        MemorySegment seg = MemorySegment.ofBuffer(src.nioBuffer(0, length));
                        fdFor(offset, length, seg).writeFully(seg, offset);
                    } finally {
                        src.release();
                    }
                }
                if (fua) {
                    file.fdatasync();
                } else if (writeback.wrote(length)) {
                    // The whole file: random writes leave dirty pages anywhere in it. A task of its own, so that this
                    // write completes without waiting for the disk's queue.
                    IO.execute(() -> file.startWriteback(0, 0));
                }
                return null;
            } finally {
                data.release();
            }
        });
    }

    @Override
    public CompletableFuture<Void> flush() {
        return submit(() -> {
            file.fdatasync();
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        if (secure) {
            return Requests.failed(BlockError.ENOTSUP, "secure discard is not supported on " + path);
        }
        return punch(offset, length);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        if (mayUnmap) {
            return punch(offset, length);
        }
        BlockDeviceException bad = checkWritable(offset, length);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        return submit(() -> {
            if (!file.fallocate(LinuxFile.FALLOC_FL_ZERO_RANGE | LinuxFile.FALLOC_FL_KEEP_SIZE, offset, length)
                    && !punchAndAllocate(offset, length)) {
                writeZeroesByHand(offset, length);
            }
            return null;
        });
    }

    /**
     * Zeroes with the space kept allocated where the file system has no ZERO_RANGE but can punch holes and
     * allocate (tmpfs): a hole punched, then allocated again, reads as zeroes, as ZERO_RANGE leaves it. Writing
     * the zeroes instead doubled the bytes a qcow2 image's first writes cost on tmpfs (its new space is
     * reserved this way). False when the file system cannot do both.
     */
    private boolean punchAndAllocate(long offset, long length) throws BlockDeviceException {
        return file.fallocate(LinuxFile.FALLOC_FL_PUNCH_HOLE | LinuxFile.FALLOC_FL_KEEP_SIZE, offset, length)
                && file.fallocate(LinuxFile.FALLOC_FL_KEEP_SIZE, offset, length);
    }

    private CompletableFuture<Void> punch(long offset, long length) {
        BlockDeviceException bad = checkWritable(offset, length);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        return submit(() -> {
            if (!file.fallocate(LinuxFile.FALLOC_FL_PUNCH_HOLE | LinuxFile.FALLOC_FL_KEEP_SIZE, offset, length)) {
                writeZeroesByHand(offset, length);
            }
            return null;
        });
    }

    private void writeZeroesByHand(long offset, long length) throws BlockDeviceException {
        int chunk = (int) Math.min(length, 1 << 20);
        ByteBuf zero = Buffers.zeroes(chunk);
        try {
            MemorySegment seg = MemorySegment.ofBuffer(zero.nioBuffer(0, chunk));
            for (long done = 0; done < length; done += chunk) {
                long n = Math.min(chunk, length - done);
                file.writeFully(seg.asSlice(0, n), offset + done);
            }
        } finally {
            zero.release();
        }
    }

    private BlockDeviceException checkWritable(long offset, long length) {
        return Writes.check(this, readOnly, offset, length, size);
    }

    @Override
    public CompletableFuture<List<Extent>> allocation(long offset, long length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        return submit(() -> {
            List<Extent> out = new ArrayList<>();
            long end = offset + length;
            long pos = offset;
            while (pos < end) {
                long data = file.seek(pos, LinuxFile.SEEK_DATA);
                if (data < 0 || data >= end) {
                    out.add(Extent.hole(pos, end - pos));
                    break;
                }
                if (data > pos) {
                    out.add(Extent.hole(pos, data - pos));
                }
                long hole = file.seek(data, LinuxFile.SEEK_HOLE);
                long stop = Math.min(hole < 0 ? end : hole, end);
                out.add(Extent.data(data, stop - data));
                pos = stop;
            }
            return out;
        });
    }

    @Override
    public CompletableFuture<Void> resize(long newSize) {
        if (readOnly) {
            return Requests.failed(BlockError.EROFS, path + " is read-only");
        }
        return submit(() -> {
            file.truncate(newSize);
            size = newSize;
            return null;
        });
    }

    @Override
    public void close() {
        synchronized (this) {
            regionsUnavailable = true;
            if (regionChannel != null) {
                try {
                    regionChannel.close(); // a region still queued on a socket then fails its send
                } catch (IOException e) {
                    // nothing was written through it
                }
            }
        }
        file.close();
        if (direct != null) {
            direct.close();
        }
    }

    /** How many times this device started the writeback of its buffered writes ({@link WritebackTrigger}). */
    public long writebacksStarted() {
        return writeback.started();
    }

    /** Pages of the file not on the disk yet (dirty or under writeback); -1 when the kernel cannot tell. For tests. */
    long pagesNotOnDisk() {
        return file.pagesNotOnDisk(0, Math.max(1, size));
    }

    @Override
    public String describe() {
        return "file://" + path;
    }

    private interface IoCall<T> {
        T call() throws Exception;
    }

    private <T> CompletableFuture<T> submit(IoCall<T> call) {
        CompletableFuture<T> f = new CompletableFuture<>();
        inFlight.incrementAndGet();
        try {
            IO.execute(() -> {
                try {
                    f.complete(call.call());
                } catch (Throwable t) {
                    f.completeExceptionally(t instanceof BlockDeviceException ? t
                            : new BlockDeviceException(BlockError.EIO, path + ": " + t, t));
                } finally {
                    inFlight.decrementAndGet();
                }
            });
        } catch (RuntimeException e) {
            inFlight.decrementAndGet();
            f.completeExceptionally(new BlockDeviceException(BlockError.EIO, path + ": " + e, e));
        }
        return f;
    }
}
