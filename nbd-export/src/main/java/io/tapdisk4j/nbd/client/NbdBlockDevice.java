package io.tapdisk4j.nbd.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoopGroup;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.BlockStatus;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DirtyBitmap;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.Requests;
import io.tapdisk4j.block.Writes;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

import static io.tapdisk4j.nbd.NbdProtocol.*;

/**
 * A block device on an NBD server: block operations turned into NBD requests, sent over an
 * {@link NbdConnectionPool} (one connection, or several when the server advertises multi-conn: then a
 * flush on any connection covers writes completed on all). Requests that a dying connection leaves
 * unanswered (WRITEs with the dom0 buffers they still hold) are sent again by the pool; they fail only when
 * the server stays away longer than the reconnect timeout or a request outlives its own timeout.
 */
public final class NbdBlockDevice implements BlockDevice {

    private static final long MAX_EFFECT = 1L << 30; // per TRIM/WRITE_ZEROES/BLOCK_STATUS request

    private final NbdClientConfig config;
    private final NbdSession session;
    private final Set<Capability> capabilities;
    private final NbdConnectionPool pool;

    private NbdBlockDevice(NbdClientConfig config, EventLoopGroup group, NbdClientConnection first) {
        this.config = config;
        this.session = first.session;
        EnumSet<Capability> c = EnumSet.noneOf(Capability.class);
        if (session.has(TF_READ_ONLY) || config.readOnly()) {
            c.add(Capability.READ_ONLY);
        }
        if (session.has(TF_SEND_FLUSH)) {
            c.add(Capability.FLUSH);
        }
        if (session.has(TF_SEND_FUA)) {
            c.add(Capability.FUA);
        }
        if (session.has(TF_SEND_TRIM)) {
            c.add(Capability.DISCARD);
        }
        if (session.has(TF_SEND_WRITE_ZEROES)) {
            c.add(Capability.WRITE_ZEROES);
        }
        if (session.hasAllocation()) {
            c.add(Capability.ALLOCATION);
        }
        if (session.has(TF_CAN_MULTI_CONN)) {
            c.add(Capability.MULTI_HANDLE_CONSISTENT);
        }
        this.capabilities = Set.copyOf(c);
        this.pool = new NbdConnectionPool(config, group, first, describe());
    }

    /** Connects (the first connection synchronously, the rest of the pool in the background). */
    public static NbdBlockDevice open(NbdClientConfig config) throws BlockDeviceException {
        return open(config, EventLoops.shared());
    }

    public static NbdBlockDevice open(NbdClientConfig config, EventLoopGroup group) throws BlockDeviceException {
        NbdConnectionPool[] pool = new NbdConnectionPool[1];
        NbdClientConnection.Owner early = (c, unanswered, cause) -> {
            if (pool[0] != null) {
                pool[0].lost(c, unanswered, cause);
            }
        };
        NbdClientConnection first;
        try {
            first = new NbdConnector(config, group).connect(early).get(config.requestTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable c = BlockDeviceException.unwrap(e);
            throw c instanceof BlockDeviceException b ? b : new BlockDeviceException(BlockError.EIO, c.toString(), c);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new BlockDeviceException(BlockError.ETIMEDOUT, "NBD server " + config.address() + " did not answer");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockDeviceException(BlockError.EIO, "interrupted while connecting to " + config.address());
        }
        NbdBlockDevice d = new NbdBlockDevice(config, group, first);
        pool[0] = d.pool;
        d.pool.start();
        return d;
    }

    @Override
    public long size() {
        return session.size();
    }

    /** The server's minimum block size (NBD_INFO_BLOCK_SIZE), never below 512: requests must be multiples of it. */
    @Override
    public int logicalBlockSize() {
        return Math.max(512, Math.min(session.minimumBlock(), 65536));
    }

    @Override
    public int physicalBlockSize() {
        return Math.max(logicalBlockSize(), Math.min(session.preferredBlock(), 65536));
    }

    @Override
    public Set<Capability> capabilities() {
        return capabilities;
    }

    /** Connections currently up (for tests and {@code ctl}). */
    public int liveConnections() {
        return pool.liveConnections();
    }

    public NbdSession session() {
        return session;
    }

    private <T> CompletableFuture<T> submit(int type, int flags, long offset, long length, ByteBuf data) {
        NbdClientRequest r = new NbdClientRequest(type, flags, offset, length, data,
                System.nanoTime() + config.requestTimeout().toNanos());
        pool.dispatch(r);
        @SuppressWarnings("unchecked")
        CompletableFuture<T> f = (CompletableFuture<T>) (CompletableFuture<?>) r.future;
        return f;
    }

    private BlockDeviceException check(long offset, long length, boolean write) {
        return write ? Writes.check(this, capabilities.contains(Capability.READ_ONLY), offset, length, size())
                : Requests.checkRange(offset, length, size());
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        BlockDeviceException bad = check(offset, length, false);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        if (length == 0) {
            return CompletableFuture.completedFuture(Buffers.direct(0));
        }
        int max = session.maximumPayload();
        if (length <= max) {
            return submit(CMD_READ, 0, offset, length, null);
        }
        // Larger than the server takes in one request: read in pieces into one buffer.
        ByteBuf out = Buffers.direct(length);
        out.writerIndex(length);
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        for (int done = 0; done < length; done += max) {
            int at = done;
            int n = Math.min(max, length - done);
            CompletableFuture<ByteBuf> part = submit(CMD_READ, 0, offset + at, n, null);
            parts.add(part.thenAccept(b -> {
                out.setBytes(at, b, b.readerIndex(), n);
                b.release();
            }));
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).handle((v, err) -> {
            if (err != null) {
                out.release();
                throw new CompletionException(BlockDeviceException.unwrap(err));
            }
            return out;
        });
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        CompletableFuture<Void> refused = Writes.refuse(this, capabilities.contains(Capability.READ_ONLY), offset, data,
                size());
        if (refused != null) {
            return refused;
        }
        boolean empty = data.readableBytes() == 0;
        int flags = fua && capabilities.contains(Capability.FUA) ? CMD_FLAG_FUA : 0;
        CompletableFuture<Void> written = Writes.inChunks(offset, data, fua, session.maximumPayload(),
                (at, chunk, f) -> submit(CMD_WRITE, flags, at, chunk.readableBytes(), chunk));
        if (fua && flags == 0 && !empty && capabilities.contains(Capability.FLUSH)) {
            // The server has no FUA but can flush: durable on completion all the same.
            return written.thenCompose(v -> flush());
        }
        return written;
    }

    @Override
    public CompletableFuture<Void> flush() {
        if (!capabilities.contains(Capability.FLUSH)) {
            return CompletableFuture.completedFuture(null);
        }
        return submit(CMD_FLUSH, 0, 0, 0, null);
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        BlockDeviceException bad = check(offset, length, true);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        if (secure) {
            return Requests.failed(BlockError.ENOTSUP, "NBD has no secure discard");
        }
        if (!capabilities.contains(Capability.DISCARD) || length == 0) {
            return CompletableFuture.completedFuture(null);
        }
        return split(CMD_TRIM, 0, offset, length);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        BlockDeviceException bad = check(offset, length, true);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        if (length == 0) {
            return CompletableFuture.completedFuture(null);
        }
        if (capabilities.contains(Capability.WRITE_ZEROES)) {
            return split(CMD_WRITE_ZEROES, mayUnmap ? 0 : CMD_FLAG_NO_HOLE, offset, length);
        }
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        for (long done = 0; done < length; done += 1 << 20) {
            int n = (int) Math.min(1 << 20, length - done);
            parts.add(submit(CMD_WRITE, 0, offset + done, n, Buffers.zeroes(n)));
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
    }

    private CompletableFuture<Void> split(int type, int flags, long offset, long length) {
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        for (long done = 0; done < length; done += MAX_EFFECT) {
            parts.add(submit(type, flags, offset + done, Math.min(MAX_EFFECT, length - done), null));
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
    }

    @Override
    public CompletableFuture<List<Extent>> allocation(long offset, long length) {
        BlockDeviceException bad = check(offset, length, false);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        long n = Math.min(length, MAX_EFFECT);
        if (!session.hasAllocation() || n == 0) {
            return CompletableFuture.completedFuture(n == 0 ? List.of() : List.of(Extent.data(offset, n)));
        }
        return blockStatus(BASE_ALLOCATION, offset, n).thenApply(runs -> runs.stream()
                .map(r -> new Extent(r.offset(), r.length(), (r.value() & STATE_HOLE) != 0, (r.value() & STATE_ZERO) != 0))
                .toList());
    }

    /**
     * What meta context {@code context} says about a prefix of {@code [offset, offset+length)} (at most
     * 1 GiB per request): one BLOCK_STATUS request, its runs clipped to the range.
     */
    CompletableFuture<List<BlockStatus>> blockStatus(String context, long offset, long length) {
        long n = Math.min(length, MAX_EFFECT);
        CompletableFuture<List<BlockStatus>> f = submitStatus(context, offset, n);
        return f.thenApply(list -> {
            // The last run may reach past the request (the spec allows it): clip it.
            List<BlockStatus> out = new ArrayList<>(list.size());
            long end = offset + n;
            for (BlockStatus r : list) {
                out.add(r.end() > end ? new BlockStatus(r.offset(), end - r.offset(), r.value()) : r);
            }
            return out;
        });
    }

    private CompletableFuture<List<BlockStatus>> submitStatus(String context, long offset, long length) {
        NbdClientRequest r = new NbdClientRequest(CMD_BLOCK_STATUS, 0, offset, length, null,
                System.nanoTime() + config.requestTimeout().toNanos(), context);
        pool.dispatch(r);
        @SuppressWarnings("unchecked")
        CompletableFuture<List<BlockStatus>> f = (CompletableFuture<List<BlockStatus>>) (CompletableFuture<?>) r.future;
        return f;
    }

    /** The server's {@code qemu:dirty-bitmap:NAME} contexts that were asked for and agreed. */
    @Override
    public List<DirtyBitmap> dirtyBitmaps() {
        List<DirtyBitmap> out = new ArrayList<>();
        for (String name : config.dirtyBitmaps()) {
            if (session.hasContext(DIRTY_BITMAP + name)) {
                out.add(new NbdDirtyBitmap(this, name, config.requestTimeout()));
            }
        }
        return out;
    }

    @Override
    public void close() {
        pool.close();
    }

    @Override
    public String describe() {
        return "nbd " + config.address() + "/" + config.exportName();
    }
}
