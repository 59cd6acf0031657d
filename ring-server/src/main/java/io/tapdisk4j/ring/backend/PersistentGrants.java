package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.Hypervisor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;

/**
 * Persistent grants of one ring (blkback's per-ring tree): a grant the frontend uses stays mapped (writable,
 * as blkfront grants persistent pages read-write) until the ring closes, up to {@link #MAX} grants; beyond
 * that a request falls back to a transient map. The new grants of one request are mapped together, so a
 * ring holds a mapping per request that brought new grants rather than one per page. Used only on the
 * ring's thread.
 */
final class PersistentGrants implements AutoCloseable {

    /** Linux blkback's default max_persistent_grants. */
    static final int MAX = 1056;

    private final Hypervisor hv;
    private final int domid;
    private final HashMap<Integer, MemorySegment> pages = new HashMap<>();
    private final List<GrantMapping> mappings = new ArrayList<>();

    PersistentGrants(Hypervisor hv, int domid) {
        this.hv = hv;
        this.domid = domid;
    }

    /** The page of persistent grant {@code ref}, or null when it is not (yet) mapped. */
    MemorySegment page(int ref) {
        return pages.get(ref);
    }

    /** How many more grants the cache takes. */
    int room() {
        return MAX - pages.size();
    }

    /** Maps the first {@code n} of {@code refs} (distinct, none cached yet) together and keeps them. */
    void add(int[] refs, int n) throws GrantException {
        GrantMapping m = hv.map(domid, Arrays.copyOf(refs, n), false);
        mappings.add(m);
        for (int i = 0; i < n; i++) {
            pages.put(refs[i], m.page(i));
        }
    }

    @Override
    public void close() {
        mappings.forEach(GrantMapping::close);
        mappings.clear();
        pages.clear();
    }
}
