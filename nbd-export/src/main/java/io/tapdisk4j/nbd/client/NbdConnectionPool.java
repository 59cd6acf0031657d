package io.tapdisk4j.nbd.client;

import io.netty.channel.EventLoopGroup;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.nbd.NbdProtocol;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The connections of one NBD device: one, or several when the server advertises multi-conn. Sends each
 * request on the usable connection with the fewest in flight; when a connection dies, its unanswered
 * requests go out again on another connection or, once reconnected, on the same slot (retrying with a
 * delay that doubles up to 5 s). Requests wait while no connection is up, and fail when the server stays
 * away longer than the reconnect timeout or a request outlives its own timeout.
 */
final class NbdConnectionPool implements NbdClientConnection.Owner {

    private static final Logger log = LoggerFactory.getLogger(NbdConnectionPool.class);

    private final NbdClientConfig config;
    private final NbdConnector connector;
    private final EventLoopGroup group;
    private final NbdSession session;
    private final String device;
    private final NbdClientConnection[] slots;
    private final ArrayDeque<NbdClientRequest> waiting = new ArrayDeque<>();
    private final boolean[] reconnecting;
    /** Consecutive failed reconnects per slot: the retry delay doubles up to 5 s. */
    private final int[] failures;
    private long lostSinceNanos;
    private boolean closed;
    private int next;

    /** A pool around the first connection (already negotiated); {@link #start} opens the rest. */
    NbdConnectionPool(NbdClientConfig config, EventLoopGroup group, NbdClientConnection first, String device) {
        this.config = config;
        this.group = group;
        this.connector = new NbdConnector(config, group);
        this.session = first.session;
        this.device = device;
        int n = session.has(NbdProtocol.TF_CAN_MULTI_CONN) ? config.connections() : 1;
        this.slots = new NbdClientConnection[n];
        this.reconnecting = new boolean[n];
        this.failures = new int[n];
        this.slots[0] = first;
    }

    /** Takes the first connection into account (it may have died already) and connects the other slots. */
    void start() {
        NbdClientConnection first = slots[0];
        if (!first.isUsable()) {
            lost(first, List.of(), null);
        }
        for (int i = 1; i < slots.length; i++) {
            reconnect(i);
        }
    }

    NbdSession session() {
        return session;
    }

    /** Connections currently up. */
    synchronized int liveConnections() {
        int n = 0;
        for (NbdClientConnection c : slots) {
            if (c != null && c.isUsable()) {
                n++;
            }
        }
        return n;
    }

    /** Sends {@code r} on the least busy connection, or queues it until one is up. */
    void dispatch(NbdClientRequest r) {
        NbdClientConnection target = null;
        synchronized (this) {
            if (closed) {
                r.fail(BlockError.ESHUTDOWN, "NBD device " + device + " is closed");
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
            if (slot >= 0 && !closed && liveConnections() == 0 && lostSinceNanos == 0) {
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

    private void reconnect(int slot) {
        synchronized (this) {
            if (closed || reconnecting[slot]) {
                return;
            }
            reconnecting[slot] = true;
        }
        connector.connect(this).whenComplete((c, err) -> reconnected(slot, c, err));
    }

    private void reconnected(int slot, NbdClientConnection c, Throwable err) {
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
                failures[slot] = 0;
                slots[slot] = c;
                lostSinceNanos = 0;
                drained.addAll(waiting);
                waiting.clear();
            } else {
                retry = true;
                failures[slot] = Math.min(failures[slot] + 1, 5);
                expireWaiting(expired);
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
    }

    /** Moves to {@code expired} every waiting request past its deadline, or all once the server is gone too long. */
    private void expireWaiting(List<NbdClientRequest> expired) {
        boolean anyLive = liveConnections() > 0;
        if (!anyLive && lostSinceNanos != 0
                && System.nanoTime() - lostSinceNanos > config.reconnectTimeout().toNanos()) {
            expired.addAll(waiting);
            waiting.clear();
            return;
        }
        long now = System.nanoTime();
        waiting.removeIf(r -> {
            if (now - r.deadlineNanos > 0) {
                expired.add(r);
                return true;
            }
            return false;
        });
    }

    /** Fails the waiting requests and closes every connection (their unanswered requests fail as they go). */
    void close() {
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
}
