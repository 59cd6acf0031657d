package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.Hypervisor;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;

/**
 * Persistent grants of one ring (blkback's per-ring tree): a grant the frontend uses stays mapped (writable,
 * as blkfront grants persistent pages read-write) until the ring closes, up to {@link #MAX} grants; beyond
 * that a request falls back to a transient map. Used only on the ring's thread.
 */
final class PersistentGrants implements AutoCloseable {

    /** Linux blkback's default max_persistent_grants. */
    static final int MAX = 1056;

    private final Hypervisor hv;
    private final int domid;
    private final HashMap<Integer, GrantMapping> mapped = new HashMap<>();

    PersistentGrants(Hypervisor hv, int domid) {
        this.hv = hv;
        this.domid = domid;
    }

    /** The page of persistent grant {@code ref}, mapping it on first use; null when the cache is full. */
    MemorySegment page(int ref) throws GrantException {
        GrantMapping m = mapped.get(ref);
        if (m == null) {
            if (mapped.size() >= MAX) {
                return null;
            }
            m = hv.map(domid, new int[]{ref}, false);
            mapped.put(ref, m);
        }
        return m.page(0);
    }

    int size() {
        return mapped.size();
    }

    @Override
    public void close() {
        mapped.values().forEach(GrantMapping::close);
        mapped.clear();
    }
}
