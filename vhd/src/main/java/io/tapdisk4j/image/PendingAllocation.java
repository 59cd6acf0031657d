package io.tapdisk4j.image;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntBinaryOperator;

/**
 * A unit (a VHD block, a qcow2 cluster) whose allocation on first write is in progress. Sequential writers
 * would otherwise queue behind each allocation: once the unit's place in the file is known, other writes into
 * it {@link #join} and go out concurrently with the allocating one, and the unit is published (made visible
 * in the table) only after all of them.
 */
public final class PendingAllocation {

    /** The unit's offset in the file once reserved; -1 when it cannot be joined. */
    public final CompletableFuture<Long> placed = new CompletableFuture<>();
    /** True once the unit is in the table (with every joined write), false when allocation failed. */
    public final CompletableFuture<Boolean> published = new CompletableFuture<>();
    private final IntBinaryOperator onJoin;
    private final List<CompletableFuture<Void>> joined = new ArrayList<>();
    private boolean closed;

    /** {@code onJoin} records a joining write's (first, count) in the unit, under this object's lock. */
    public PendingAllocation(IntBinaryOperator onJoin) {
        this.onJoin = onJoin;
    }

    /** A write of {@code count} units of granularity from {@code first} joins; null once closed. */
    public synchronized CompletableFuture<Void> join(int first, int count) {
        if (closed) {
            return null;
        }
        onJoin.applyAsInt(first, count);
        CompletableFuture<Void> f = new CompletableFuture<>();
        joined.add(f);
        return f;
    }

    /** No more joiners; returns the writes that joined. */
    public synchronized List<CompletableFuture<Void>> close() {
        closed = true;
        return List.copyOf(joined);
    }

    /** No more joiners; waits for the writes that joined (each reports its own failure). */
    public void closeAndAwaitJoined() {
        for (CompletableFuture<Void> f : close()) {
            f.handle((v, t) -> null).join();
        }
    }

    /** The offset once placed, or -1 when it failed or cannot be joined. */
    public long awaitPlace() {
        return placed.handle((v, t) -> t == null ? v : -1L).join();
    }

    /** Whether it was published; false when it failed. */
    public boolean awaitPublished() {
        return published.handle((v, t) -> t == null && v).join();
    }

    /** An allocation that is never joinable (a discard holding the unit while it unreferences it). */
    public static PendingAllocation closedMarker() {
        PendingAllocation p = new PendingAllocation((a, b) -> 0);
        p.close();
        p.placed.complete(-1L);
        return p;
    }
}
