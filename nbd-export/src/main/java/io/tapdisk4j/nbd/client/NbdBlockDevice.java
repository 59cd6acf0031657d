package io.tapdisk4j.nbd.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoopGroup;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.Requests;
import io.tapdisk4j.nbd.NbdProtocol;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

import static io.tapdisk4j.nbd.NbdProtocol.*;

/**
 * A block device on an NBD server. Opens one connection, or a pool of them when the server advertises
 * multi-conn (then a flush on any connection covers writes completed on all), and keeps many requests in
 * flight on each. When a connection dies, its unanswered requests (WRITEs with the dom0 buffers they
 * still hold) are sent again on another connection or on a reconnected one; they fail only when the
 * server stays away longer than the reconnect timeout or a request outlives its own timeout.
 */
public final class NbdBlockDevice implements BlockDevice, NbdClientConnection.Owner {

    private static final Logger log = LoggerFactory.getLogger(NbdBlockDevice.class);
    private static final long MAX_EFFECT = 1L << 30; // per TRIM/WRITE_ZEROES/BLOCK_STATUS request

    private final NbdClientConfig config;
    private final NbdConnector connector;
    private final EventLoopGroup group;
    private final NbdSession session;
    private final Set<Capability> capabilities;
    private final NbdClientConnection[] slots;
    private final ArrayDeque<NbdClientRequest> waiting = new ArrayDeque<>();
    private final boolean[] reconnecting;
    /** Consecutive failed reconnects per slot: the retry delay doubles up to 5 s. */
    private final int[] failures;
    private long lostSinceNanos;
    private boolean closed;
    private int next;

    private NbdBlockDevice(NbdClientConfig config, EventLoopGroup group, NbdClientConnection first) {
        this.config = config;
        this.group = group;
        this.connector = new NbdConnector(config, group);
        this.session = first.session;
        int n = session.has(TF_CAN_MULTI_CONN) ? config.connections() : 1;
        this.slots = new NbdClientConnection[n];
        this.reconnecting = new boolean[n];
        this.failures = new int[n];
        this.slots[0] = first;
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
        if (session.allocationContextId() != 0) {
            c.add(Capability.ALLOCATION);
        }
        if (session.has(TF_CAN_MULTI_CONN)) {
            c.add(Capability.MULTI_HANDLE_CONSISTENT);
        }
        this.capabilities = Set.copyOf(c);
    }

    /** Connects (the first connection synchronously, the rest of the pool in the background). */
    public static NbdBlockDevice open(NbdClientConfig config) throws BlockDeviceException {
        return open(config, EventLoops.shared());
    }

    public static NbdBlockDevice open(NbdClientConfig config, EventLoopGroup group) throws BlockDeviceException {
        NbdBlockDevice[] self = new NbdBlockDevice[1];
        NbdClientConnection.Owner early = (c, unanswered, cause) -> {
            if (self[0] != null) {
                self[0].lost(c, unanswered, cause);
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
        self[0] = d;
        if (!first.isUsable()) {
            d.lost(first, List.of(), null);
        }
        for (int i = 1; i < d.slots.length; i++) {
            d.reconnect(i);
        }
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
    public synchronized int liveConnections() {
        int n = 0;
        for (NbdClientConnection c : slots) {
            if (c != null && c.isUsable()) {
                n++;
            }
        }
        return n;
    }

    public NbdSession session() {
        return session;
    }

    private <T> CompletableFuture<T> submit(int type, int flags, long offset, long length, ByteBuf data) {
        NbdClientRequest r = new NbdClientRequest(type, flags, offset, length, data,
                System.nanoTime() + config.requestTimeout().toNanos());
        dispatch(r);
        @SuppressWarnings("unchecked")
        CompletableFuture<T> f = (CompletableFuture<T>) (CompletableFuture<?>) r.future;
        return f;
    }

    private void dispatch(NbdClientRequest r) {
        NbdClientConnection target = null;
        synchronized (this) {
            if (closed) {
                r.fail(BlockError.ESHUTDOWN, "NBD device " + describe() + " is closed");
                return;
            }
            int best = Integer.MAX_VALUE;
            for (int i = 0; i < slots.length; i++) {
                NbdClientConnection c = slots[(next + i) % slots.length];
                if (c != null && c.isUsable() && c.inFlight() < best) {
                    best = c.inFlight();
                    target = c;
                }
            }
            next++;
            if (target == null) {
                waiting.add(r);
            }
        }
        if (target == null) {
            // Nothing is up: make sure every dead slot is being reconnected, else the request would wait forever.
            for (int i = 0; i < slots.length; i++) {
                NbdClientConnection c;
                synchronized (this) {
                    c = slots[i];
                }
                if (c == null || !c.isUsable()) {
                    reconnect(i);
                }
            }
            return;
        }
        target.submit(r);
    }

    @Override
    public void lost(NbdClientConnection c, List<NbdClientRequest> unanswered, Throwable cause) {
        int slot = -1;
        synchronized (this) {
            for (int i = 0; i < slots.length; i++) {
                if (slots[i] == c) {
                    slot = i;
                    slots[i] = null;
                }
            }
            if (slot >= 0 && !closed && liveConnectionsLocked() == 0 && lostSinceNanos == 0) {
                lostSinceNanos = System.nanoTime();
            }
        }
        if (slot >= 0 && !unanswered.isEmpty()) {
            log.warn("NBD {}: connection lost with {} requests unanswered; retrying them", config.address(), unanswered.size());
        }
        for (NbdClientRequest r : unanswered) {
            if (System.nanoTime() - r.deadlineNanos > 0) {
                r.fail(BlockError.ETIMEDOUT, "NBD " + NbdProtocol.commandName(r.type) + " timed out");
            } else if (closed) {
                r.fail(BlockError.ESHUTDOWN, "NBD device closed");
            } else {
                dispatch(r);
            }
        }
        if (slot >= 0) {
            reconnect(slot);
        }
    }

    private int liveConnectionsLocked() {
        int n = 0;
        for (NbdClientConnection c : slots) {
            if (c != null && c.isUsable()) {
                n++;
            }
        }
        return n;
    }

    private void reconnect(int slot) {
        synchronized (this) {
            if (closed || reconnecting[slot]) {
                return;
            }
            reconnecting[slot] = true;
        }
        connector.connect(this).whenComplete((c, err) -> {
            List<NbdClientRequest> drained = new ArrayList<>();
            List<NbdClientRequest> expired = new ArrayList<>();
            boolean retry = false;
            synchronized (this) {
                reconnecting[slot] = false;
                if (closed) {
                    if (c != null) {
                        c.close();
                    }
                    return;
                }
                if (err == null && c.session.size() != session.size()) {
                    log.warn("NBD {}: the export's size changed from {} to {}; not using the new connection",
                            config.address(), session.size(), c.session.size());
                    c.close();
                    err = new BlockDeviceException(BlockError.EIO, "export size changed");
                }
                if (err == null && !c.isUsable()) {
                    err = new BlockDeviceException(BlockError.EIO, "connection closed right after the handshake");
                }
                if (err == null) {
                    log.info("NBD {}: reconnected (connection {}){}{}", config.address(), slot,
                            lostSinceNanos == 0 ? "" : String.format(" after %.1f s without any connection",
                                    (System.nanoTime() - lostSinceNanos) / 1e9),
                            waiting.isEmpty() ? "" : "; sending " + waiting.size() + " waiting request(s) again");
                    failures[slot] = 0;
                    slots[slot] = c;
                    lostSinceNanos = 0;
                    drained.addAll(waiting);
                    waiting.clear();
                } else {
                    retry = true;
                    if (failures[slot] == 0) { // once per outage: the retries that follow are quiet
                        log.warn("NBD {}: reconnecting (connection {}) failed: {}; retrying", config.address(), slot,
                                BlockDeviceException.unwrap(err).getMessage());
                    }
                    failures[slot] = Math.min(failures[slot] + 1, 5);
                    boolean anyLive = liveConnectionsLocked() > 0;
                    if (!anyLive && lostSinceNanos != 0
                            && System.nanoTime() - lostSinceNanos > config.reconnectTimeout().toNanos()) {
                        expired.addAll(waiting);
                        waiting.clear();
                    } else {
                        long now = System.nanoTime();
                        waiting.removeIf(r -> {
                            if (now - r.deadlineNanos > 0) {
                                expired.add(r);
                                return true;
                            }
                            return false;
                        });
                    }
                }
            }
            for (NbdClientRequest r : expired) {
                r.fail(BlockError.EIO, "NBD server " + config.address() + " unreachable: "
                        + (err == null ? "" : BlockDeviceException.unwrap(err).getMessage()));
            }
            for (NbdClientRequest r : drained) {
                dispatch(r);
            }
            if (retry) {
                long delay;
                synchronized (this) {
                    delay = Math.min(5000, 100L << failures[slot]);
                }
                group.next().schedule(() -> reconnect(slot), delay, TimeUnit.MILLISECONDS);
            }
        });
    }

    private BlockDeviceException check(long offset, long length, boolean write) {
        if (write && capabilities.contains(Capability.READ_ONLY)) {
            return new BlockDeviceException(BlockError.EROFS, describe() + " is read-only");
        }
        return Requests.checkRange(offset, length, size());
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
        int length = data.readableBytes();
        BlockDeviceException bad = check(offset, length, true);
        if (bad != null) {
            data.release();
            return CompletableFuture.failedFuture(bad);
        }
        if (length == 0) {
            data.release();
            return CompletableFuture.completedFuture(null);
        }
        int flags = fua && capabilities.contains(Capability.FUA) ? CMD_FLAG_FUA : 0;
        int max = session.maximumPayload();
        CompletableFuture<Void> written;
        if (length <= max) {
            written = submit(CMD_WRITE, flags, offset, length, data);
        } else {
            List<CompletableFuture<Void>> parts = new ArrayList<>();
            for (int done = 0; done < length; done += max) {
                int n = Math.min(max, length - done);
                parts.add(submit(CMD_WRITE, flags, offset + done, n, data.retainedSlice(data.readerIndex() + done, n)));
            }
            data.release();
            written = CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
        }
        if (fua && flags == 0 && capabilities.contains(Capability.FLUSH)) {
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
        if (session.allocationContextId() == 0 || n == 0) {
            return CompletableFuture.completedFuture(n == 0 ? List.of() : List.of(Extent.data(offset, n)));
        }
        CompletableFuture<List<Extent>> f = submit(CMD_BLOCK_STATUS, 0, offset, n, null);
        return f.thenApply(list -> {
            // The last extent may reach past the request (the spec allows it): clip it.
            List<Extent> out = new ArrayList<>(list.size());
            long end = offset + length;
            for (Extent e : list) {
                if (e.offset() >= end) {
                    break;
                }
                out.add(e.end() > end ? new Extent(e.offset(), end - e.offset(), e.hole(), e.zero()) : e);
            }
            return out;
        });
    }

    @Override
    public void close() {
        List<NbdClientRequest> dropped;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            dropped = new ArrayList<>(waiting);
            waiting.clear();
        }
        for (NbdClientRequest r : dropped) {
            r.fail(BlockError.ESHUTDOWN, "NBD device closed");
        }
        for (NbdClientConnection c : slots.clone()) {
            if (c != null) {
                c.close();
                c.channel().closeFuture().awaitUninterruptibly(5, TimeUnit.SECONDS);
            }
        }
    }

    @Override
    public String describe() {
        return "nbd " + config.address() + "/" + config.exportName();
    }
}
