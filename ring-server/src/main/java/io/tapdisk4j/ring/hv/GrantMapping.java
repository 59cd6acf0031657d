package io.tapdisk4j.ring.hv;

import java.lang.foreign.MemorySegment;

/** Granted guest pages mapped into dom0; closing unmaps them. */
public interface GrantMapping extends AutoCloseable {

    int pageCount();

    /** Page {@code i} (4096 bytes), valid until {@link #close()}. */
    MemorySegment page(int i);

    @Override
    void close();
}
