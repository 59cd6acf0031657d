package io.tapdisk4j.ring.hv;

import java.lang.foreign.MemorySegment;

/**
 * Grant-copy segments queued and executed together. {@code local} is dom0 memory (a pooled direct
 * buffer's segment); a segment never crosses a page boundary of the guest frame
 * ({@code pageOffset + length <= 4096}), as Xen requires.
 */
public interface GrantCopyBatch {

    /** Queues a copy of {@code length} bytes from guest grant {@code ref} at {@code pageOffset} into {@code local}. */
    default void fromGuest(int domid, int ref, int pageOffset, MemorySegment local, int length) {
        fromGuest(domid, ref, pageOffset, local, 0, length);
    }

    /** Queues a copy of {@code length} bytes from {@code local} into guest grant {@code ref} at {@code pageOffset}. */
    default void toGuest(MemorySegment local, int domid, int ref, int pageOffset, int length) {
        toGuest(local, 0, domid, ref, pageOffset, length);
    }

    /**
     * As {@link #fromGuest(int, int, int, MemorySegment, int)} into {@code local} at {@code localOffset}: a
     * request's segments land in one buffer without a slice per segment on the hot path.
     */
    void fromGuest(int domid, int ref, int pageOffset, MemorySegment local, long localOffset, int length);

    /** As {@link #toGuest(MemorySegment, int, int, int, int)} from {@code local} at {@code localOffset}. */
    void toGuest(MemorySegment local, long localOffset, int domid, int ref, int pageOffset, int length);

    int size();

    int capacity();

    /** Executes every queued segment; per-segment results are in {@link #status(int)}. */
    void execute() throws HypervisorException;

    /** The GNTST_* status of segment {@code i} after {@link #execute()} (0 = okay). */
    int status(int i);

    /** Empties the batch for reuse. */
    void clear();
}
