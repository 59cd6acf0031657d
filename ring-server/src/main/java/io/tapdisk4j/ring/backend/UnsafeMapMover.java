package io.tapdisk4j.ring.backend;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.ring.blkif.BlkifRequest;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.Hypervisor;

import java.util.concurrent.CompletableFuture;

/**
 * The {@code unsafe-map} data path: a write hands the guest's mapped pages themselves to the device, unmapped
 * when the device releases the buffer, and is answered only after that; reads are copied as in map-copy.
 * For the safety suite and benchmarks.
 */
final class UnsafeMapMover extends MapCopyMover {

    UnsafeMapMover(Hypervisor hv, int domid) {
        super(hv, domid);
    }

    /** The guest's pages as one buffer; {@link #unmapped} completes when the device released it. */
    private static final class GuestPages extends CompositeByteBuf {
        final GrantMapping mapping;
        final CompletableFuture<Void> unmapped = new CompletableFuture<>();

        GuestPages(GrantMapping mapping, int components) {
            super(Buffers.allocator(), true, components);
            this.mapping = mapping;
        }

        @Override
        protected void deallocate() {
            super.deallocate();
            mapping.close();
            unmapped.complete(null);
        }
    }

    @Override
    public ByteBuf gather(BlkifRequest q, int nseg, int bytes) throws GrantException {
        GrantMapping m = hv.map(domid, SegmentMover.grefs(q, nseg), true);
        GuestPages buf = new GuestPages(m, Math.max(2, nseg));
        for (int i = 0; i < nseg; i++) {
            buf.addComponent(true, Unpooled.wrappedBuffer(
                    m.page(i).asSlice((long) q.firstSect(i) << 9, q.segmentBytes(i)).asByteBuffer()));
        }
        return buf;
    }

    @Override
    public CompletableFuture<Void> answerable(ByteBuf payload, CompletableFuture<Void> written) {
        CompletableFuture<Void> unmapped = ((GuestPages) payload).unmapped;
        return unmapped.isDone() ? written : CompletableFuture.allOf(written, unmapped);
    }
}
