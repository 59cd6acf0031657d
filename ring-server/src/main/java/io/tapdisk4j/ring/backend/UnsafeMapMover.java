package io.tapdisk4j.ring.backend;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.ring.blkif.BlkifRequest;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.Hypervisor;

/**
 * The {@code unsafe-map} data path: a write hands the guest's mapped pages themselves to the device, unmapped
 * when the device releases the buffer; reads are copied as in map-copy. For the safety suite and benchmarks.
 */
final class UnsafeMapMover extends MapCopyMover {

    UnsafeMapMover(Hypervisor hv, int domid) {
        super(hv, domid);
    }

    @Override
    public ByteBuf gather(BlkifRequest q, int nseg, int bytes) throws GrantException {
        GrantMapping m = hv.map(domid, SegmentMover.grefs(q, nseg), true);
        CompositeByteBuf buf = new CompositeByteBuf(Buffers.allocator(), true, Math.max(2, nseg)) {
            @Override
            protected void deallocate() {
                super.deallocate();
                m.close();
            }
        };
        for (int i = 0; i < nseg; i++) {
            buf.addComponent(true, Unpooled.wrappedBuffer(
                    m.page(i).asSlice((long) q.firstSect(i) << 9, q.segmentBytes(i)).asByteBuffer()));
        }
        return buf;
    }
}
