package io.tapdisk4j.ring.backend;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.blkif.BlkifRequest;
import io.tapdisk4j.ring.hv.GrantException;

import java.util.concurrent.CompletableFuture;

/**
 * Runs a validated READ or WRITE (direct, indirect, or a barrier's write): a write's payload is gathered by
 * the ring's {@link SegmentMover} and handed to the device; a read's data comes back from the device and is
 * scattered into the guest's pages. Synchronous completions (null device, page-cache hits) answer without
 * a hop. Ring thread only.
 */
final class DataTransfer {

    private final BlockDevice device;
    private final SegmentMover mover;
    private final RequestCompletion completion;
    private final String name;

    DataTransfer(BlockDevice device, SegmentMover mover, RequestCompletion completion, String name) {
        this.device = device;
        this.mover = mover;
        this.completion = completion;
        this.name = name;
    }

    /** Starts {@code op} (READ or WRITE) over the request's segments; {@code fua} for a barrier's write. */
    void start(InFlight r, int op, boolean fua) {
        BlkifRequest q = r.req;
        int nseg = q.nrSegments;
        int bytes = 0;
        for (int i = 0; i < nseg; i++) {
            bytes += q.segmentBytes(i);
        }
        r.bytes = bytes;
        r.nseg = nseg;
        r.offset = q.sectorNumber << 9;
        if (op == Blkif.OP_READ) {
            CompletableFuture<ByteBuf> read = device.read(r.offset, bytes);
            if (read.isDone() && !read.isCompletedExceptionally()) {
                // Served on this thread (null device, page-cache hit): no callback, no hop.
                readDone(r, read.join(), null);
            } else {
                read.whenComplete((data, e) -> completion.onLoop(() -> readDone(r, data, e)));
            }
            return;
        }
        ByteBuf data;
        try {
            data = mover.gather(q, nseg, bytes);
        } catch (GrantException e) {
            completion.refuse(r, Blkif.RSP_ERROR, e.getMessage());
            return;
        }
        CompletableFuture<Void> written = device.write(r.offset, data, fua && device.has(Capability.FUA));
        if (written.isDone() && !written.isCompletedExceptionally()) {
            completion.finish(r, null);
        } else {
            written.whenComplete((v, e) -> completion.onLoop(() -> completion.finish(r, e)));
        }
    }

    private void readDone(InFlight r, ByteBuf data, Throwable error) {
        if (r.answered || completion.released()) {
            if (data != null) {
                data.release();
            }
            return;
        }
        if (error != null) {
            completion.finish(r, error);
            return;
        }
        try {
            if (data.readableBytes() != r.bytes) {
                // A short read must never let the guest see a buffer's stale remainder.
                completion.answer(r, Blkif.RSP_ERROR);
                DeviceBackend.LOG.warn("{}: device returned {} bytes for a {}-byte read", name,
                        data.readableBytes(), r.bytes);
                return;
            }
            mover.toGuest(r.req, r.nseg, LocalMemory.of(data, data.readerIndex(), r.bytes));
            completion.answer(r, Blkif.RSP_OKAY);
        } catch (GrantException e) {
            completion.refuse(r, Blkif.RSP_ERROR, e.getMessage());
        } finally {
            data.release();
        }
    }
}
