package io.tapdisk4j.nfs.device;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.Requests;
import io.tapdisk4j.block.Writes;
import io.tapdisk4j.nfs.v3.FileHandle;
import io.tapdisk4j.nfs.v3.Nfs3Client;
import io.tapdisk4j.nfs.v3.Nfs3Exception;
import io.tapdisk4j.nfs.v3.Nfs3Status;
import io.tapdisk4j.nfs.v3.ReadResult;
import io.tapdisk4j.nfs.v3.StableHow;
import io.tapdisk4j.nfs.v3.WriteResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A file on an NFSv3 export as a block device. I/O is split at the server's rtmax/wtmax; writes go out
 * UNSTABLE and {@link #flush} COMMITs them, FUA writes go out FILE_SYNC. The {@link CommitCoordinator}
 * keeps each unstable write's dom0 buffer until a COMMIT returns the verifier it was acknowledged with,
 * and sends them again when the verifier changes. A stale file handle is looked up again once; a second
 * NFS3ERR_STALE reaches the caller as ESTALE.
 */
public final class NfsBlockDevice implements BlockDevice {

    private static final Logger LOG = LoggerFactory.getLogger(NfsBlockDevice.class);
    private static final long CLOSE_FLUSH_SECONDS = 60;
    private static final int MAX_JUKEBOX_RETRIES = 60;

    private final NfsSession session;
    private final boolean ownsSession;
    private final String path;
    private final boolean readOnly;
    private final Nfs3Client nfs;
    private final int readMax;
    private final int writeMax;
    private final CommitCoordinator commits;
    private volatile FileHandle handle;
    private volatile long size;
    private boolean closed;
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();

    public NfsBlockDevice(NfsSession session, boolean ownsSession, String path, FileHandle handle, long size,
                          boolean readOnly) {
        this.session = session;
        this.ownsSession = ownsSession;
        this.path = path;
        this.handle = handle;
        this.size = size;
        this.readOnly = readOnly;
        this.nfs = session.nfs();
        // A server that reports 0 (or nonsense) gets a conservative 64 KiB.
        this.readMax = sane(session.fsinfo().rtmax());
        this.writeMax = sane(session.fsinfo().wtmax());
        this.commits = new CommitCoordinator(new CommitCoordinator.Server() {
            @Override
            public CompletableFuture<WriteResult> write(long offset, ByteBuf data, StableHow how) {
                return send(offset, data, how);
            }

            @Override
            public CompletableFuture<Long> commit() {
                return withHandle(h -> nfs.commit(h, 0, 0));
            }
        }, describe(), session.url().maxUnstable());
    }

    private static int sane(int max) {
        return max <= 0 ? 65536 : Math.min(max, 1 << 20);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public Set<Capability> capabilities() {
        EnumSet<Capability> c = EnumSet.of(Capability.FLUSH, Capability.FUA, Capability.RESIZE, Capability.WRITE_ZEROES);
        if (readOnly) {
            c.add(Capability.READ_ONLY);
        }
        return c;
    }

    public FileHandle handle() {
        return handle;
    }

    /** Writes whose buffers are held until COMMIT (for tests and {@code ctl} statistics). */
    public int uncommittedWrites() {
        return commits.uncommittedWrites();
    }

    /**
     * Replaces the file handle, as if the server had forgotten the old one (tests use it to make the server
     * answer NFS3ERR_STALE deterministically).
     */
    void replaceHandle(FileHandle h) {
        handle = h;
    }

    public NfsSession session() {
        return session;
    }

    /** How many NFS connections requests are spread over ({@code nconnect}). */
    public int connectionCount() {
        return nfs.connections().size();
    }

    /** How many writes were sent again because the write verifier changed. */
    public long resentWrites() {
        return commits.resentWrites();
    }

    // ---- stale handles --------------------------------------------------------------------------

    private static boolean isStale(Throwable t) {
        return BlockDeviceException.unwrap(t) instanceof Nfs3Exception n
                && (n.status() == Nfs3Status.STALE || n.status() == Nfs3Status.BADHANDLE);
    }

    private static boolean isJukebox(Throwable t) {
        return BlockDeviceException.unwrap(t) instanceof Nfs3Exception n && n.status() == Nfs3Status.JUKEBOX;
    }

    private <T> CompletableFuture<T> withHandle(Function<FileHandle, CompletableFuture<T>> op) {
        return withHandle(op, 0);
    }

    /**
     * Runs {@code op} with the current handle; a stale handle is looked up again once, and NFS3ERR_JUKEBOX
     * (the server is busy, for example fetching data from slow storage: RFC 1813 asks clients to try later)
     * is retried after a growing delay.
     */
    private <T> CompletableFuture<T> withHandle(Function<FileHandle, CompletableFuture<T>> op, int jukebox) {
        FileHandle h = handle;
        return op.apply(h).exceptionallyCompose(t -> {
            if (isJukebox(t) && jukebox < MAX_JUKEBOX_RETRIES) {
                long delayMs = Math.min(1000, 50L << Math.min(jukebox, 5));
                LOG.debug("{}: server busy (NFS3ERR_JUKEBOX), retrying in {} ms", describe(), delayMs);
                return CompletableFuture.supplyAsync(() -> null,
                        CompletableFuture.delayedExecutor(delayMs, TimeUnit.MILLISECONDS))
                        .thenCompose(x -> withHandle(op, jukebox + 1));
            }
            if (!isStale(t)) {
                return CompletableFuture.failedFuture(t);
            }
            return relookup(h).thenCompose(op);
        });
    }

    private CompletableFuture<FileHandle> relookup(FileHandle stale) {
        if (!handle.equals(stale)) {
            return CompletableFuture.completedFuture(handle);
        }
        LOG.warn("{}: stale file handle, looking {} up again", describe(), path);
        return session.lookup(path).handle((r, t) -> {
            if (t != null) {
                throw new java.util.concurrent.CompletionException(new BlockDeviceException(BlockError.ESTALE,
                        describe() + ": file handle is stale and looking the file up again failed: "
                                + BlockDeviceException.unwrap(t).getMessage()));
            }
            handle = r.handle();
            return r.handle();
        });
    }

    // ---- read -----------------------------------------------------------------------------------

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        if (length == 0) {
            return CompletableFuture.completedFuture(Buffers.direct(0));
        }
        return Requests.readInChunks(offset, length, readMax, this::readChunk);
    }

    private CompletableFuture<ByteBuf> readChunk(long offset, int length) {
        return withHandle(h -> nfs.read(h, offset, length)).thenCompose(r -> {
            ByteBuf data = r.data();
            int got = data.readableBytes();
            if (got == length) {
                return CompletableFuture.completedFuture(data);
            }
            if (r.eof() || got == 0) {
                // The file ends before the device does (or the server says so): the rest reads as zeroes.
                return CompletableFuture.completedFuture(concat(data, Buffers.zeroes(length - got)));
            }
            return readChunk(offset + got, length - got).handle((rest, t) -> {
                if (t != null) {
                    data.release();
                    throw new java.util.concurrent.CompletionException(BlockDeviceException.unwrap(t));
                }
                return concat(data, rest);
            });
        });
    }

    private static ByteBuf concat(ByteBuf a, ByteBuf b) {
        CompositeByteBuf c = Buffers.allocator().compositeDirectBuffer(2);
        c.addComponent(true, a);
        c.addComponent(true, b);
        return c;
    }

    // ---- write ----------------------------------------------------------------------------------

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        CompletableFuture<Void> refused = Writes.refuse(this, readOnly, offset, data, size);
        if (refused != null) {
            return refused;
        }
        CompletableFuture<Void> g = commits.gate();
        if (g.isDone()) {
            return Writes.inChunks(offset, data, fua, writeMax, commits::write);
        }
        return g.handle((v, t) -> null).thenCompose(v -> Writes.inChunks(offset, data, fua, writeMax, commits::write));
    }

    /** Sends a WRITE of all of {@code data} (following short writes), taking over {@code data}. */
    private CompletableFuture<WriteResult> send(long offset, ByteBuf data, StableHow how) {
        int length = data.readableBytes();
        return withHandle(h -> nfs.write(h, offset, data.retainedDuplicate(), how)).thenCompose(r -> {
            if (r.count() <= 0 || r.count() > length) {
                throw new java.util.concurrent.CompletionException(new BlockDeviceException(BlockError.EIO,
                        describe() + ": server wrote " + r.count() + " of " + length + " bytes"));
            }
            if (r.count() == length) {
                return CompletableFuture.completedFuture(r);
            }
            return send(offset + r.count(), data.retainedSlice(data.readerIndex() + r.count(), length - r.count()), how);
        }).whenComplete((r, t) -> data.release());
    }

    // ---- flush ----------------------------------------------------------------------------------

    @Override
    public CompletableFuture<Void> flush() {
        return commits.flush();
    }

    // ---- the rest -------------------------------------------------------------------------------

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        return Requests.failed(BlockError.ENOTSUP, "NFSv3 has no way to discard: " + describe());
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        return zeroFrom(offset, offset + length);
    }

    private CompletableFuture<Void> zeroFrom(long offset, long end) {
        if (offset >= end) {
            return CompletableFuture.completedFuture(null);
        }
        int n = (int) Math.min(writeMax, end - offset);
        return write(offset, Buffers.zeroes(n), false).thenCompose(v -> zeroFrom(offset + n, end));
    }

    @Override
    public CompletableFuture<List<Extent>> allocation(long offset, long length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        return CompletableFuture.completedFuture(length == 0 ? List.of() : List.of(new Extent(offset, length, false, false)));
    }

    @Override
    public CompletableFuture<Void> resize(long newSize) {
        if (readOnly) {
            return Requests.failed(BlockError.EROFS, describe() + " is read-only");
        }
        if (newSize < 0) {
            return Requests.failed(BlockError.EINVAL, "negative size " + newSize);
        }
        return withHandle(h -> nfs.setSize(h, newSize)).thenAccept(a -> size = newSize);
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        commits.closing();
        CompletableFuture<Void> flushed = readOnly ? CompletableFuture.completedFuture(null) : flush();
        if (onEventLoop()) {
            // Blocking here could wait for a reply this very thread has to read: finish asynchronously.
            flushed.orTimeout(CLOSE_FLUSH_SECONDS, TimeUnit.SECONDS).whenComplete((v, t) -> finishClose(t));
            return;
        }
        Throwable failure = null;
        try {
            flushed.get(CLOSE_FLUSH_SECONDS, TimeUnit.SECONDS);
        } catch (Exception e) {
            failure = e;
        }
        finishClose(failure);
    }

    private static boolean onEventLoop() {
        for (io.netty.util.concurrent.EventExecutor e : io.tapdisk4j.block.EventLoops.shared()) {
            if (e.inEventLoop()) {
                return true;
            }
        }
        return false;
    }

    private void finishClose(Throwable flushFailure) {
        if (flushFailure != null) {
            LOG.error("{}: flush on close failed: {}", describe(), BlockDeviceException.unwrap(flushFailure).toString());
        }
        int dropped = commits.releaseAll();
        if (dropped > 0) {
            LOG.error("{}: closing with {} write(s) not known to be durable", describe(), dropped);
        }
        if (ownsSession) {
            session.close();
        }
        closeFuture.complete(null);
    }

    /** Completes when {@link #close} has finished (it finishes asynchronously when called on an event loop). */
    public CompletableFuture<Void> closeFuture() {
        return closeFuture;
    }

    @Override
    public String describe() {
        return "nfs://" + session.url().host() + path;
    }
}
