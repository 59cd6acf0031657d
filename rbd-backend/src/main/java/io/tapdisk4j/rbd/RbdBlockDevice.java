package io.tapdisk4j.rbd;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.Requests;
import io.tapdisk4j.block.SnapshotDiff;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * An RBD image as a {@link BlockDevice}. Reads, writes, flush, discard and write-zeroes are librbd's
 * asynchronous calls; each completion is delivered to the submitting thread's event loop (a frontend's
 * channel), or to this device's own when the submitter is not on one (see {@link CompletionQueue}), so no
 * thread waits for a request. A write hands librbd the address of the caller's pooled direct buffer and
 * keeps that buffer retained until librbd's completion, so librbd only ever reads dom0-owned memory that nobody
 * changes meanwhile (librbd copies it before sending; with zero-copy writes turned on in the URI its messenger
 * sends from it, resends after an OSD restart included, and the completion waits until it let go). Management calls that block
 * (allocation map, resize) run on a small shared pool.
 */
public final class RbdBlockDevice implements BlockDevice, SnapshotDiff {

    private final RbdImage image;
    /** Where completions go when the submitter is not on an event loop (the vdi commands' main thread). */
    private final CompletionQueue ownLoop;
    private final Executor blocking;
    private final Set<Capability> capabilities;
    private final long objectSize;
    private volatile long size;

    RbdBlockDevice(RbdImage image, Executor blocking) throws BlockDeviceException {
        this.image = image;
        this.ownLoop = new CompletionQueue(EventLoops.shared().next());
        this.blocking = blocking;
        this.size = image.size();
        this.objectSize = image.objectSize();
        EnumSet<Capability> caps = EnumSet.of(Capability.FLUSH, Capability.FUA, Capability.ALLOCATION,
                Capability.MULTI_HANDLE_CONSISTENT);
        if (image.readOnly()) {
            caps.add(Capability.READ_ONLY);
        } else {
            // librbd zeroes discarded ranges (it truncates or removes objects) and resizes online.
            caps.addAll(EnumSet.of(Capability.DISCARD, Capability.DISCARD_ZEROES, Capability.WRITE_ZEROES, Capability.RESIZE));
        }
        this.capabilities = Set.copyOf(caps);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int physicalBlockSize() {
        return 4096;
    }

    @Override
    public Set<Capability> capabilities() {
        return capabilities;
    }

    /** {@code POOL[/NAMESPACE]/IMAGE[@SNAP]}. */
    public String imageSpec() {
        return image.url().imageSpec();
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        ByteBuf buf = Buffers.direct(Math.max(length, 1));
        CompletableFuture<ByteBuf> f = new CompletableFuture<>();
        if (length == 0) {
            f.complete(buf);
            return f;
        }
        submit(f, rc -> {
            if (rc < 0) {
                buf.release();
                f.completeExceptionally(RbdErrors.io("read " + length + " bytes at " + offset + " of " + imageSpec(), rc));
                return;
            }
            if (rc < length) {
                buf.setZero((int) rc, length - (int) rc); // librbd reads beyond the end as short; never here
            }
            buf.writerIndex(length);
            f.complete(buf);
        }, c -> (int) Native.Aio.RBD_AIO_READ.invokeExact(image.handle(), offset, (long) length, address(buf, 0), c),
                buf::release);
        return f;
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        int length = data.readableBytes();
        BlockDeviceException bad = readOnlyOrRange(offset, length);
        if (bad != null) {
            data.release();
            return CompletableFuture.failedFuture(bad);
        }
        ByteBuf buf = contiguousDirect(data);
        CompletableFuture<Void> f = new CompletableFuture<>();
        submit(f, rc -> {
            buf.release(); // librbd is done with the bytes: only now may the buffer be reused
            if (rc < 0) {
                f.completeExceptionally(RbdErrors.io("write " + length + " bytes at " + offset + " of " + imageSpec(), rc));
            } else if (fua) {
                flush().whenComplete((v, e) -> complete(f, e));
            } else {
                f.complete(null);
            }
        }, c -> (int) Native.Aio.RBD_AIO_WRITE.invokeExact(image.handle(), offset, (long) length,
                address(buf, buf.readerIndex()), c), buf::release);
        return f;
    }

    @Override
    public CompletableFuture<Void> flush() {
        if (image.readOnly()) {
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<Void> f = new CompletableFuture<>();
        submit(f, rc -> done(f, rc, "flush " + imageSpec()),
                c -> (int) Native.Aio.RBD_AIO_FLUSH.invokeExact(image.handle(), c), () -> { });
        return f;
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        if (secure) {
            return Requests.failed(BlockError.ENOTSUP, "secure discard is not supported on " + imageSpec());
        }
        BlockDeviceException bad = readOnlyOrRange(offset, length);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        CompletableFuture<Void> f = new CompletableFuture<>();
        submit(f, rc -> done(f, rc, "discard " + length + " bytes at " + offset + " of " + imageSpec()),
                c -> (int) Native.Aio.RBD_AIO_DISCARD.invokeExact(image.handle(), offset, length, c), () -> { });
        return f;
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        BlockDeviceException bad = readOnlyOrRange(offset, length);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        // RBD_WRITE_ZEROES_FLAG_THICK_PROVISION when the caller wants the range kept allocated.
        int flags = mayUnmap ? 0 : 1;
        CompletableFuture<Void> f = new CompletableFuture<>();
        submit(f, rc -> done(f, rc, "write zeroes " + length + " bytes at " + offset + " of " + imageSpec()),
                c -> (int) Native.Aio.RBD_AIO_WRITE_ZEROES.invokeExact(image.handle(), offset, length, c, flags, 0), () -> { });
        return f;
    }

    @Override
    public CompletableFuture<List<Extent>> allocation(long offset, long length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        if (length == 0) {
            return CompletableFuture.completedFuture(List.of());
        }
        return CompletableFuture.supplyAsync(() -> {
            try {
                return extents(offset, length, image.diff(null, offset, length, image.fastDiff()));
            } catch (BlockDeviceException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, blocking);
    }

    /**
     * {@inheritDoc} From RBD's diff ({@code rbd_diff_iterate2} from the snapshot): from the object map, in whole
     * objects, when fast-diff is valid; else exact.
     */
    @Override
    public CompletableFuture<List<Extent>> changedSince(String fromSnapshot) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                List<Extent> out = new ArrayList<>();
                for (RbdDiff.Run r : image.diff(fromSnapshot, 0, size, image.fastDiff())) {
                    long end = Math.min(r.end(), size);
                    if (end > r.offset()) {
                        out.add(r.exists() ? Extent.data(r.offset(), end - r.offset()) : Extent.hole(r.offset(), end - r.offset()));
                    }
                }
                return out;
            } catch (BlockDeviceException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, blocking);
    }

    /** Snapshot names of this image, oldest first. */
    public List<String> snapshots() throws BlockDeviceException {
        return image.snapshots();
    }

    /** The RADOS object size: the unit of the allocation map when it comes from the object map. */
    public long objectSize() {
        return objectSize;
    }

    @Override
    public CompletableFuture<Void> resize(long newSize) {
        if (image.readOnly()) {
            return Requests.failed(BlockError.EROFS, imageSpec() + " is read-only");
        }
        if (newSize < 0) {
            return Requests.failed(BlockError.EINVAL, "negative size " + newSize);
        }
        return CompletableFuture.runAsync(() -> {
            try {
                image.resize(newSize);
                size = image.size();
            } catch (BlockDeviceException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, blocking);
    }

    RbdImage image() {
        return image;
    }

    @Override
    public void close() {
        image.close();
    }

    @Override
    public String describe() {
        return image.url().describe();
    }

    /** The extents of {@code [offset, offset+length)}: librbd's data runs, and holes between them. */
    static List<Extent> extents(long offset, long length, List<RbdDiff.Run> runs) {
        long end = offset + length;
        List<Extent> out = new ArrayList<>();
        long pos = offset;
        for (RbdDiff.Run r : runs) {
            if (!r.exists()) {
                continue;
            }
            long s = Math.max(r.offset(), pos);
            long e = Math.min(r.end(), end);
            if (e <= s) {
                continue;
            }
            if (s > pos) {
                out.add(Extent.hole(pos, s - pos));
            }
            if (!out.isEmpty() && !out.getLast().hole() && out.getLast().end() == s) {
                Extent last = out.removeLast();
                out.add(Extent.data(last.offset(), e - last.offset()));
            } else {
                out.add(Extent.data(s, e - s));
            }
            pos = e;
        }
        if (pos < end) {
            out.add(Extent.hole(pos, end - pos));
        }
        return out;
    }

    private BlockDeviceException readOnlyOrRange(long offset, long length) {
        if (image.readOnly()) {
            return new BlockDeviceException(BlockError.EROFS, imageSpec() + " is open read-only");
        }
        return Requests.checkRange(offset, length, size);
    }

    /** The buffer librbd reads: {@code data} itself when it is one run of direct memory, else a direct copy. */
    private static ByteBuf contiguousDirect(ByteBuf data) {
        if (data.isDirect() && data.nioBufferCount() == 1 && data.hasMemoryAddress()) {
            return data;
        }
        ByteBuf copy = Buffers.direct(Math.max(data.readableBytes(), 1));
        copy.writeBytes(data, data.readerIndex(), data.readableBytes());
        data.release();
        return copy;
    }

    private static MemorySegment address(ByteBuf buf, int index) {
        if (buf.hasMemoryAddress()) {
            return MemorySegment.ofAddress(buf.memoryAddress() + index);
        }
        return MemorySegment.ofBuffer(buf.nioBuffer(index, buf.capacity() - index));
    }

    private static void done(CompletableFuture<Void> f, long rc, String what) {
        if (rc < 0) {
            f.completeExceptionally(RbdErrors.io(what, rc));
        } else {
            f.complete(null);
        }
    }

    private static void complete(CompletableFuture<Void> f, Throwable e) {
        if (e != null) {
            f.completeExceptionally(BlockDeviceException.unwrap(e));
        } else {
            f.complete(null);
        }
    }

    @FunctionalInterface
    private interface Submit {
        int call(MemorySegment completion) throws Throwable;
    }

    /** Creates a completion for {@code done}, submits, and on a refused submission fails {@code f} and runs {@code undo}. */
    private void submit(CompletableFuture<?> f, AioCompletions.Done done, Submit call, Runnable undo) {
        AioCompletions.Completion c;
        try {
            c = AioCompletions.create(CompletionQueue.forCaller(ownLoop), done);
        } catch (BlockDeviceException | RuntimeException | Error e) {
            undo.run();
            f.completeExceptionally(e);
            return;
        }
        int rc;
        try {
            rc = call.call(c.handle());
        } catch (Throwable t) {
            AioCompletions.abandon(c);
            undo.run();
            f.completeExceptionally(new BlockDeviceException(BlockError.EIO, "librbd call failed on " + imageSpec(), t));
            return;
        }
        if (rc < 0) {
            AioCompletions.abandon(c);
            undo.run();
            f.completeExceptionally(RbdErrors.io("submit to " + imageSpec(), rc));
        }
    }

}
