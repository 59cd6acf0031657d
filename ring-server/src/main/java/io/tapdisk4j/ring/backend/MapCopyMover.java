package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.blkif.BlkifRequest;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.Hypervisor;

import java.lang.foreign.MemorySegment;

/**
 * The {@code map-copy} data path (tapdisk2's): maps a request's grants together, copies, and unmaps before
 * the request is answered (blkfront ends its grants' access when it sees the response).
 */
class MapCopyMover implements SegmentMover {

    final Hypervisor hv;
    final int domid;

    MapCopyMover(Hypervisor hv, int domid) {
        this.hv = hv;
        this.domid = domid;
    }

    @Override
    public void fromGuest(BlkifRequest q, int nseg, MemorySegment local) throws GrantException {
        try (GrantMapping m = hv.map(domid, SegmentMover.grefs(q, nseg), true)) {
            long pos = 0;
            for (int i = 0; i < nseg; i++) {
                int len = q.segmentBytes(i);
                MemorySegment.copy(m.page(i), q.firstSect(i) << 9, local, pos, len);
                pos += len;
            }
        }
    }

    @Override
    public void toGuest(BlkifRequest q, int nseg, MemorySegment local) throws GrantException {
        try (GrantMapping m = hv.map(domid, SegmentMover.grefs(q, nseg), false)) {
            long pos = 0;
            for (int i = 0; i < nseg; i++) {
                int len = q.segmentBytes(i);
                MemorySegment.copy(local, pos, m.page(i), q.firstSect(i) << 9, len);
                pos += len;
            }
        }
    }
}
