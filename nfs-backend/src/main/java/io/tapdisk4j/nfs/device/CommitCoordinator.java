package io.tapdisk4j.nfs.device;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Requests;
import io.tapdisk4j.nfs.v3.StableHow;
import io.tapdisk4j.nfs.v3.WriteResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The write-verifier and COMMIT protocol of one NFS file (RFC 1813, 3.3.7 and 3.3.21). Unstable writes
 * keep their dom0 buffers ({@link UncommittedWrites}) until a COMMIT returns the verifier they were
 * acknowledged with. A changed verifier (the server restarted and may have dropped them) holds new writes
 * back, waits for the writes in flight, and sends every uncommitted write again in issue order. When the
 * held bytes pass {@code maxUnstable}, a COMMIT goes out in the background.
 */
final class CommitCoordinator {

    /** The server side: WRITE (all of it, following short writes) and COMMIT of the whole file. */
    interface Server {
        /** Writes all of {@code data} at {@code offset}; takes over {@code data}. */
        CompletableFuture<WriteResult> write(long offset, ByteBuf data, StableHow how);

        /** COMMITs the file; completes with the verifier of the reply. */
        CompletableFuture<Long> commit();
    }

    private static final Logger LOG = LoggerFactory.getLogger(CommitCoordinator.class);
    static final int MAX_FLUSH_ROUNDS = 5;

    private final Server server;
    private final String device;
    private final long maxUnstable;
    private final UncommittedWrites uncommitted = new UncommittedWrites();

    // Guarded by this: writes in flight, the gate new writes wait on during a resend, the verifier.
    private int writesInFlight;
    private CompletableFuture<Void> drained;
    private CompletableFuture<Void> gate = CompletableFuture.completedFuture(null);
    private CompletableFuture<Void> recovery;
    private boolean haveVerifier;
    private long verifier;
    private long resends;
    private boolean closed;
    private boolean backgroundCommit;

    CommitCoordinator(Server server, String device, long maxUnstable) {
        this.server = server;
        this.device = device;
        this.maxUnstable = maxUnstable;
    }

    /** Writes whose buffers are held until COMMIT. */
    int uncommittedWrites() {
        return uncommitted.size();
    }

    /** Bytes held until COMMIT. */
    long uncommittedBytes() {
        return uncommitted.bytes();
    }

    /** How many writes were sent again because the write verifier changed. */
    synchronized long resentWrites() {
        return resends;
    }

    /** Completes when new writes may go out (at once, unless uncommitted writes are being sent again). */
    synchronized CompletableFuture<Void> gate() {
        return gate;
    }

    /**
     * One WRITE of {@code chunk} (at most wtmax bytes), UNSTABLE and tracked, or FILE_SYNC for FUA; takes
     * over {@code chunk}. Callers wait for {@link #gate} first.
     */
    CompletableFuture<Void> write(long offset, ByteBuf chunk, boolean fua) {
        // A FUA write needs no tracking unless an older uncommitted write overlaps it: then a resend of the
        // older one would overwrite it, so it joins the replay order.
        UncommittedWrites.Entry entry = !fua || uncommitted.overlaps(offset, chunk.readableBytes())
                ? uncommitted.add(offset, chunk.retain()) : null;
        synchronized (this) {
            writesInFlight++;
        }
        return server.write(offset, chunk, fua ? StableHow.FILE_SYNC : StableHow.UNSTABLE).handle((r, t) -> {
            writeDone();
            if (t != null) {
                if (entry != null) {
                    uncommitted.remove(entry);
                }
                throw new CompletionException(BlockDeviceException.unwrap(t));
            }
            if (entry != null) {
                uncommitted.acked(entry, r.verifier());
            }
            noteVerifier(r.verifier());
            maybeCommitInBackground();
            return null;
        });
    }

    /** After the gate: COMMITs until every acknowledged write is durable under one verifier. */
    CompletableFuture<Void> flush() {
        return gate().handle((v, t) -> null).thenCompose(v -> commitRound(0));
    }

    /** The device is closing: no more background COMMITs (its own flush still runs). */
    synchronized void closing() {
        closed = true;
    }

    /** Releases every held buffer (the device has closed); returns how many writes were not known to be durable. */
    int releaseAll() {
        return uncommitted.releaseAll();
    }

    private void maybeCommitInBackground() {
        // Bounds dom0 memory for a guest that rarely flushes (the Linux client's dirty limit plays this role).
        if (uncommitted.bytes() < maxUnstable) {
            return;
        }
        synchronized (this) {
            if (backgroundCommit || closed) {
                return;
            }
            backgroundCommit = true;
        }
        commitRound(0).whenComplete((v, t) -> {
            boolean closing;
            synchronized (this) {
                backgroundCommit = false;
                closing = closed;
            }
            if (t != null && !closing) {
                LOG.warn("{}: background COMMIT failed ({}); the data stays held for the next flush", device,
                        BlockDeviceException.unwrap(t).getMessage());
            }
        });
    }

    private void writeDone() {
        CompletableFuture<Void> d = null;
        synchronized (this) {
            if (--writesInFlight == 0 && drained != null) {
                d = drained;
                drained = null;
            }
        }
        if (d != null) {
            d.complete(null);
        }
    }

    private synchronized CompletableFuture<Void> whenDrained() {
        if (writesInFlight == 0) {
            return CompletableFuture.completedFuture(null);
        }
        if (drained == null) {
            drained = new CompletableFuture<>();
        }
        return drained;
    }

    /** Notes the verifier of a WRITE reply; a change starts a resend of every uncommitted write. */
    private void noteVerifier(long v) {
        boolean changed;
        synchronized (this) {
            changed = haveVerifier && v != verifier;
            haveVerifier = true;
            verifier = v;
        }
        if (changed) {
            LOG.warn("{}: the server's write verifier changed (it restarted?): sending {} uncommitted write(s) again",
                    device, uncommitted.size());
            resend().whenComplete((x, t) -> {
                if (t != null) {
                    LOG.error("{}: resending uncommitted writes failed ({}); the next flush tries again", device,
                            BlockDeviceException.unwrap(t).getMessage());
                }
            });
        }
    }

    private synchronized void setVerifier(long v) {
        haveVerifier = true;
        verifier = v;
    }

    /** Holds new writes back, waits for writes in flight, then sends every tracked write again in order. */
    private CompletableFuture<Void> resend() {
        CompletableFuture<Void> r;
        synchronized (this) {
            if (recovery != null) {
                return recovery;
            }
            r = new CompletableFuture<>();
            recovery = r;
            gate = r;
        }
        whenDrained().thenCompose(v -> replay(uncommitted.all(), 0)).whenComplete((v, t) -> {
            synchronized (this) {
                recovery = null;
                gate = CompletableFuture.completedFuture(null);
            }
            if (t != null) {
                r.completeExceptionally(BlockDeviceException.unwrap(t));
            } else {
                r.complete(null);
            }
        });
        return r;
    }

    private CompletableFuture<Void> replay(List<UncommittedWrites.Entry> entries, int i) {
        for (; i < entries.size(); i++) {
            UncommittedWrites.Entry e = entries.get(i);
            ByteBuf data = uncommitted.retainedData(e);
            if (data == null) {
                continue;
            }
            int next = i + 1;
            synchronized (this) {
                resends++;
            }
            return server.write(e.offset, data, StableHow.UNSTABLE).thenCompose(r -> {
                uncommitted.acked(e, r.verifier());
                setVerifier(r.verifier());
                return replay(entries, next);
            });
        }
        return CompletableFuture.completedFuture(null);
    }

    private CompletableFuture<Void> commitRound(int round) {
        List<UncommittedWrites.Entry> acknowledged = uncommitted.acknowledged();
        if (acknowledged.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        return server.commit().thenCompose(v -> {
            if (uncommitted.releaseIfCommitted(acknowledged, v)) {
                setVerifier(v);
                return CompletableFuture.completedFuture(null);
            }
            if (round + 1 >= MAX_FLUSH_ROUNDS) {
                return Requests.<Void>failed(BlockError.EIO, device + ": the server's write verifier kept changing; "
                        + uncommitted.size() + " write(s) are still not durable");
            }
            LOG.warn("{}: COMMIT returned a new write verifier: sending uncommitted writes again before the flush completes",
                    device);
            setVerifier(v);
            return resend().thenCompose(x -> commitRound(round + 1));
        });
    }
}
