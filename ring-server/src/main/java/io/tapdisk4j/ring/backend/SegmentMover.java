package io.tapdisk4j.ring.backend;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.ring.blkif.BlkifRequest;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.Hypervisor;

import java.lang.foreign.MemorySegment;

/**
 * How one data path moves a validated request's payload between the guest's granted pages and dom0:
 * {@link GrantCopyMover} (copy), {@link MapCopyMover} (map-copy), {@link PersistentMover} (persistent),
 * {@link UnsafeMapMover} (unsafe-map). One per ring, used on the ring's thread only.
 */
interface SegmentMover extends AutoCloseable {

    static SegmentMover of(DataPath path, Hypervisor hv, int domid, GrantCopier copier) {
        return switch (path) {
            case COPY -> new GrantCopyMover(copier, domid);
            case MAP_COPY -> new MapCopyMover(hv, domid);
            case PERSISTENT -> new PersistentMover(new PersistentGrants(hv, domid));
            case UNSAFE_MAP -> new UnsafeMapMover(hv, domid);
        };
    }

    /** Copies segments {@code [0, nseg)} of {@code q} from the guest into {@code local}, back to back. */
    void fromGuest(BlkifRequest q, int nseg, MemorySegment local) throws GrantException;

    /** Copies {@code local} (back to back) into segments {@code [0, nseg)} of {@code q} in the guest. */
    void toGuest(BlkifRequest q, int nseg, MemorySegment local) throws GrantException;

    /** A write's payload in a buffer the device takes over (a new dom0 buffer unless the path says otherwise). */
    default ByteBuf gather(BlkifRequest q, int nseg, int bytes) throws GrantException {
        ByteBuf buf = Buffers.direct(bytes);
        boolean ok = false;
        try {
            fromGuest(q, nseg, LocalMemory.of(buf, 0, bytes));
            buf.writerIndex(bytes);
            ok = true;
            return buf;
        } finally {
            if (!ok) {
                buf.release();
            }
        }
    }

    /** Gives back what the mover keeps between requests (persistent mappings). */
    @Override
    default void close() {
    }

    /** The grant refs of segments {@code [0, n)}, for a mapping. */
    static int[] grefs(BlkifRequest q, int n) {
        int[] refs = new int[n];
        System.arraycopy(q.gref, 0, refs, 0, n);
        return refs;
    }
}
