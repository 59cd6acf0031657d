package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.blkif.BlkifRequest;
import io.tapdisk4j.ring.hv.GrantException;

import java.lang.foreign.MemorySegment;

/** The {@code persistent} data path: copies between dom0 buffers and the ring's persistent grants. */
final class PersistentMover implements SegmentMover {

    private final PersistentGrants grants;

    PersistentMover(PersistentGrants grants) {
        this.grants = grants;
    }

    @Override
    public void fromGuest(BlkifRequest q, int nseg, MemorySegment local) throws GrantException {
        try (PersistentGrants.Pages pages = grants.pages(q, nseg, false)) {
            long pos = 0;
            for (int i = 0; i < nseg; i++) {
                int len = q.segmentBytes(i);
                MemorySegment.copy(pages.page(i), q.firstSect(i) << 9, local, pos, len);
                pos += len;
            }
        }
    }

    @Override
    public void toGuest(BlkifRequest q, int nseg, MemorySegment local) throws GrantException {
        try (PersistentGrants.Pages pages = grants.pages(q, nseg, true)) {
            long pos = 0;
            for (int i = 0; i < nseg; i++) {
                int len = q.segmentBytes(i);
                MemorySegment.copy(local, pos, pages.page(i), q.firstSect(i) << 9, len);
                pos += len;
            }
        }
    }

    @Override
    public void close() {
        grants.close();
    }
}
