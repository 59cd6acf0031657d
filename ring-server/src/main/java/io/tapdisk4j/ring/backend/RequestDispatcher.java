package io.tapdisk4j.ring.backend;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.blkif.BlkifRequest;
import io.tapdisk4j.ring.hv.GrantException;

import java.util.concurrent.CompletableFuture;

/**
 * Starts each request taken off a ring by its operation: first what the device or the negotiation cannot
 * do (EOPNOTSUPP, as blkback answers), then an INDIRECT request's segments fetched, then one validation
 * call, then READ/WRITE through {@link DataTransfer}, WRITE_BARRIER through the {@link BarrierGate},
 * FLUSH_DISKCACHE and DISCARD straight to the device. Ring thread only.
 */
final class RequestDispatcher {

    private final BlockDevice device;
    private final RequestValidator validator;
    private final IndirectSegments indirect;
    private final boolean indirectNegotiated;
    private final DataTransfer transfer;
    private final BarrierGate barriers;
    private final RequestCompletion completion;

    RequestDispatcher(BlockDevice device, RequestValidator validator, IndirectSegments indirect,
                      boolean indirectNegotiated, DataTransfer transfer, BarrierGate barriers,
                      RequestCompletion completion) {
        this.device = device;
        this.validator = validator;
        this.indirect = indirect;
        this.indirectNegotiated = indirectNegotiated;
        this.transfer = transfer;
        this.barriers = barriers;
        this.completion = completion;
    }

    /** Starts {@code r}, one of {@code inFlight} requests now in flight on the ring (itself included). */
    void dispatch(InFlight r, int inFlight) {
        BlkifRequest q = r.req;
        String unsupported = unsupported(q);
        if (unsupported != null) {
            completion.refuse(r, Blkif.RSP_EOPNOTSUPP, unsupported);
            return;
        }
        if (q.operation == Blkif.OP_INDIRECT) {
            try {
                indirect.fetch(q);
            } catch (GrantException e) {
                completion.refuse(r, Blkif.RSP_ERROR, e.getMessage());
                return;
            }
        }
        String bad = validator.validate(q);
        if (bad != null) {
            completion.refuse(r, Blkif.RSP_ERROR, bad);
            return;
        }
        switch (q.operation) {
            case Blkif.OP_READ, Blkif.OP_WRITE, Blkif.OP_INDIRECT -> transfer.start(r, q.dataOperation(), false);
            case Blkif.OP_WRITE_BARRIER -> {
                if (inFlight > 1) {
                    barriers.hold(r);
                } else {
                    barrier(r);
                }
            }
            case Blkif.OP_FLUSH_DISKCACHE -> flushThenWrite(r, false);
            case Blkif.OP_DISCARD -> device.discard(q.sectorNumber << 9, q.nrSectors << 9, secure(q))
                    .whenComplete((v, e) -> completion.onLoop(() -> completion.finish(r, e)));
            default -> throw new IllegalStateException("no dispatch for " + Blkif.opName(q.operation));
        }
    }

    /** What neither the device nor the negotiated features support (EOPNOTSUPP), else null. */
    private String unsupported(BlkifRequest q) {
        return switch (q.operation) {
            case Blkif.OP_READ, Blkif.OP_WRITE, Blkif.OP_WRITE_BARRIER -> null;
            case Blkif.OP_FLUSH_DISKCACHE -> device.has(Capability.FLUSH) ? null
                    : "flush not supported by " + device.describe();
            case Blkif.OP_DISCARD -> !device.has(Capability.DISCARD) ? "discard not supported by " + device.describe()
                    : secure(q) && !device.has(Capability.SECURE_DISCARD)
                    ? "secure discard not supported by " + device.describe() : null;
            case Blkif.OP_INDIRECT -> indirectNegotiated ? null : "indirect descriptors not negotiated";
            default -> "unsupported operation " + Blkif.opName(q.operation);
        };
    }

    private static boolean secure(BlkifRequest q) {
        return (q.discardFlag & Blkif.DISCARD_SECURE) != 0;
    }

    /** Runs a barrier alone on the ring: flush what came before, then its write with FUA. */
    void barrier(InFlight r) {
        barriers.started();
        flushThenWrite(r, true);
    }

    /**
     * Flushes (when the device can), then writes the request's segments if it has any: a barrier's write
     * with FUA, and a FLUSH_DISKCACHE with segments as blkback takes it (a write after a flush).
     */
    private void flushThenWrite(InFlight r, boolean fua) {
        CompletableFuture<Void> flushed = device.has(Capability.FLUSH) ? device.flush()
                : CompletableFuture.completedFuture(null);
        flushed.whenComplete((v, e) -> completion.onLoop(() -> {
            if (e != null || r.req.nrSegments == 0) {
                completion.finish(r, e);
            } else {
                transfer.start(r, Blkif.OP_WRITE, fua);
            }
        }));
    }
}
