package io.tapdisk4j.ring.hv;

import java.lang.foreign.MemorySegment;

/**
 * Grant-copy segments queued and executed together. {@code local} is dom0 memory (a pooled direct
 * buffer's segment); a segment never crosses a page boundary of the guest frame
 * ({@code pageOffset + length <= 4096}), as Xen requires.
 */
public interface GrantCopyBatch {

    /** Queues a copy of {@code length} bytes from guest grant {@code ref} at {@code pageOffset} into {@code local}. */
    void fromGuest(int domid, int ref, int pageOffset, MemorySegment local, int length);

    /** Queues a copy of {@code length} bytes from {@code local} into guest grant {@code ref} at {@code pageOffset}. */
    void toGuest(MemorySegment local, int domid, int ref, int pageOffset, int length);

    int size();

    int capacity();

    /** Executes every queued segment; per-segment results are in {@link #status(int)}. */
    void execute() throws HypervisorException;

    /** The GNTST_* status of segment {@code i} after {@link #execute()} (0 = okay). */
    int status(int i);

    /** Empties the batch for reuse. */
    void clear();
}
