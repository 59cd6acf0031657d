package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.blkif.BlkifRequest;
import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.GrantException;

import java.lang.foreign.MemorySegment;

/** The {@code copy} data path: one grant-copy batch per request, the hypervisor checking each grant. */
final class GrantCopyMover implements SegmentMover {

    private final GrantCopier copier;
    private final int domid;

    GrantCopyMover(GrantCopier copier, int domid) {
        this.copier = copier;
        this.domid = domid;
    }

    @Override
    public void fromGuest(BlkifRequest q, int nseg, MemorySegment local) throws GrantException {
        GrantCopyBatch b = copier.begin();
        long pos = 0;
        for (int i = 0; i < nseg; i++) {
            int len = q.segmentBytes(i);
            b.fromGuest(domid, q.gref[i], q.firstSect(i) << 9, local, pos, len);
            pos += len;
        }
        copier.run("write segment");
    }

    @Override
    public void toGuest(BlkifRequest q, int nseg, MemorySegment local) throws GrantException {
        GrantCopyBatch b = copier.begin();
        long pos = 0;
        for (int i = 0; i < nseg; i++) {
            int len = q.segmentBytes(i);
            b.toGuest(local, pos, domid, q.gref[i], q.firstSect(i) << 9, len);
            pos += len;
        }
        copier.run("read segment");
    }
}
