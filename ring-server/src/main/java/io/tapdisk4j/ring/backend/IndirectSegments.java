package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.blkif.BlkifCodec;
import io.tapdisk4j.ring.blkif.BlkifLayout;
import io.tapdisk4j.ring.blkif.BlkifRequest;
import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.GrantException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Fetches an INDIRECT request's segment pages by grant copy into private memory (never read in place: the
 * guest could change them between check and use), then decodes the segments into the request. One per ring.
 */
final class IndirectSegments implements AutoCloseable {

    private final GrantCopier copier;
    private final int domid;
    private final int maxSegments;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment pages;

    IndirectSegments(GrantCopier copier, int domid, int maxSegments) {
        this.copier = copier;
        this.domid = domid;
        this.maxSegments = maxSegments;
        int bytes = maxSegments == 0 ? 8 : pagesFor(maxSegments) * BlkifLayout.PAGE_SIZE;
        this.pages = arena.allocate(bytes, BlkifLayout.PAGE_SIZE);
    }

    private static int pagesFor(int segments) {
        return (segments + BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME - 1) / BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME;
    }

    /**
     * Decodes the segments of {@code q} from its indirect pages. A count outside 1..max fetches nothing
     * (validation refuses the request); a page that cannot be copied throws.
     */
    void fetch(BlkifRequest q) throws GrantException {
        int n = q.nrSegments;
        if (n < 1 || n > maxSegments) {
            return;
        }
        GrantCopyBatch b = copier.begin();
        for (int p = 0; p < pagesFor(n); p++) {
            int segs = Math.min(BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME, n - p * BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME);
            b.fromGuest(domid, q.indirectGrefs[p], 0, pages, (long) p * BlkifLayout.PAGE_SIZE,
                    segs * BlkifLayout.SEGMENT_SIZE);
        }
        copier.run("indirect page");
        BlkifCodec.decodeSegments(pages, 0, n, q, 0);
    }

    /** Frees the private pages; no copy can target them afterwards (all run on the ring's thread). */
    @Override
    public void close() {
        arena.close();
    }
}
