package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.blkif.BlkifRequest;
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
 * as blkfront grants persistent pages read-write) until the ring closes, up to {@link #max} grants; beyond
 * that a request falls back to a transient map, unmapped before the request is answered. The new grants of
 * one request are mapped together, so a ring holds a mapping per request that brought new grants rather
 * than one per page. Used only on the ring's thread.
 */
final class PersistentGrants implements AutoCloseable {

    /** Linux blkback's default max_persistent_grants. */
    static final int MAX = 1056;

    private final Hypervisor hv;
    private final int domid;
    private final int max;
    private final HashMap<Integer, MemorySegment> pages = new HashMap<>();
    private final List<GrantMapping> mappings = new ArrayList<>();
    private final Pages lease = new Pages();

    PersistentGrants(Hypervisor hv, int domid) {
        this(hv, domid, MAX);
    }

    PersistentGrants(Hypervisor hv, int domid, int max) {
        this.hv = hv;
        this.domid = domid;
        this.max = max;
    }

    /** The page of persistent grant {@code ref}, or null when it is not (yet) mapped. */
    MemorySegment page(int ref) {
        return pages.get(ref);
    }

    /** How many grants are kept mapped. */
    int size() {
        return pages.size();
    }

    /** How many more grants the cache takes. */
    int room() {
        return max - pages.size();
    }

    /**
     * The pages of segments {@code [0, nseg)} of {@code q}: grants already kept, new ones mapped into the
     * cache while it has room, the rest mapped for this request only ({@code writable} for a read's data).
     * Close the result once copied (it unmaps the transient part). The result is reused by the next call.
     */
    Pages pages(BlkifRequest q, int nseg, boolean writable) throws GrantException {
        Pages p = lease;
        p.reset(q, nseg);
        for (int i = 0; i < nseg; i++) {
            int ref = q.gref[i];
            if (pages.get(ref) == null && !p.missing(ref)) {
                p.addMissing(ref);
            }
        }
        p.kept = Math.min(p.nMissing, room());
        if (p.kept > 0) {
            add(p.missing, p.kept);
        }
        if (p.kept < p.nMissing) {
            p.transientMap = hv.map(domid, Arrays.copyOfRange(p.missing, p.kept, p.nMissing), !writable);
        }
        return p;
    }

    /** Maps the first {@code n} of {@code refs} (distinct, none kept yet) together and keeps them. */
    private void add(int[] refs, int n) throws GrantException {
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

    /** One request's view of its pages; see {@link #pages}. */
    final class Pages implements AutoCloseable {
        private BlkifRequest q;
        private int[] missing = new int[0];
        private int nMissing;
        private int kept;
        private GrantMapping transientMap;

        private void reset(BlkifRequest q, int nseg) {
            this.q = q;
            nMissing = 0;
            kept = 0;
            transientMap = null;
            if (missing.length < nseg) {
                missing = new int[nseg];
            }
        }

        private boolean missing(int ref) {
            for (int k = 0; k < nMissing; k++) {
                if (missing[k] == ref) {
                    return true;
                }
            }
            return false;
        }

        private void addMissing(int ref) {
            missing[nMissing++] = ref;
        }

        /** The page segment {@code i} of the request lies in. */
        MemorySegment page(int i) {
            int ref = q.gref[i];
            MemorySegment page = pages.get(ref);
            if (page != null) {
                return page;
            }
            for (int k = kept; k < nMissing; k++) {
                if (missing[k] == ref) {
                    return transientMap.page(k - kept);
                }
            }
            throw new IllegalStateException("grant " + ref + " neither persistent nor mapped for the request");
        }

        /** True when some of the request's grants are mapped for it alone. */
        boolean hasTransient() {
            return transientMap != null;
        }

        @Override
        public void close() {
            if (transientMap != null) {
                transientMap.close();
                transientMap = null;
            }
        }
    }
}
