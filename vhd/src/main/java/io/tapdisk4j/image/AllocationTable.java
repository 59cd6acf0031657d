package io.tapdisk4j.image;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The units (VHD blocks, qcow2 clusters) of an image whose allocation on first write is in progress, one
 * {@link PendingAllocation} each: a writer claims a unit before allocating it, others join it or wait, and
 * a discard holds the unit while it unreferences it.
 */
public final class AllocationTable {

    private final ConcurrentHashMap<Long, PendingAllocation> pending = new ConcurrentHashMap<>();

    /** Whether an allocation (or a hold) of {@code unit} is in progress. */
    public boolean busy(long unit) {
        return pending.containsKey(unit);
    }

    /** Claims {@code unit} for {@code mine}; returns the allocation already in progress instead, or null. */
    public PendingAllocation claim(long unit, PendingAllocation mine) {
        return pending.putIfAbsent(unit, mine);
    }

    /** Ends {@code mine}'s claim: whoever waits sees it published (or not) and not joinable any more. */
    public void release(long unit, PendingAllocation mine, boolean published) {
        pending.remove(unit, mine);
        mine.placed.complete(-1L);
        mine.published.complete(published);
    }

    /** Claims {@code unit}, waiting for any allocation in progress to end first; returns the claim. */
    public PendingAllocation claimWaiting(long unit) {
        PendingAllocation mine = PendingAllocation.closedMarker();
        PendingAllocation other;
        while ((other = pending.putIfAbsent(unit, mine)) != null) {
            other.published.handle((v, t) -> null).join();
        }
        return mine;
    }

    /** Holds {@code unit} against allocation while {@code body} changes its entry (a discard, zeroing). */
    public void holding(long unit, Body body) throws BlockDeviceException {
        PendingAllocation mine = claimWaiting(unit);
        try {
            body.run();
        } finally {
            release(unit, mine, false);
        }
    }

    public interface Body {
        void run() throws BlockDeviceException;
    }

    /**
     * Writes {@code slice} (not taken over) into a unit another request is allocating, {@code delta} bytes
     * after its place in the file, once that place is reserved; {@code first} and {@code count} say what it
     * covers, in the format's granularity. False when the caller must start over: the unit cannot be joined,
     * was published without this write, or its allocation failed.
     */
    public static boolean join(PendingAllocation allocation, int first, int count, BlockDevice file, long delta,
                               ByteBuf slice) throws BlockDeviceException {
        long p = allocation.awaitPlace();
        CompletableFuture<Void> done = p < 0 ? null : allocation.join(first, count);
        if (done == null) {
            allocation.published.handle((v, t) -> null).join();
            return false;
        }
        try {
            Io.join(file.write(p + delta, slice.retain(), false));
            done.complete(null);
        } catch (Throwable e) {
            done.completeExceptionally(e); // the allocating request waits for this one
            throw e;
        }
        // complete only once readers can see the unit; if it never gets published, write again
        return allocation.awaitPublished();
    }
}
