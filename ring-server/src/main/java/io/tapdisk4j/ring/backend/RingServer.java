package io.tapdisk4j.ring.backend;

import io.netty.channel.EventLoop;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.blkif.BlkifCodec;
import io.tapdisk4j.ring.blkif.BlkifLayout;
import io.tapdisk4j.ring.hv.EventChannel;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.Hypervisor;
import io.tapdisk4j.ring.hv.HypervisorException;
import io.tapdisk4j.ring.shared.BackRing;
import io.tapdisk4j.ring.shared.RingPages;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Serves one ring (one queue) on one event loop: runs rounds that take requests off the ring (each copied
 * once into private memory, then handed to the {@link RequestDispatcher}), answers them in completion order
 * through the {@link ResponsePublisher}, and owns the ring's lifecycle (bind, close, release). All state is
 * confined to {@link #loop}; device completions that arrive elsewhere hop back to it. Nothing a guest
 * writes can make this throw out of the loop: every failure becomes an error response, and a ring overrun
 * shuts the device down.
 */
final class RingServer implements RequestCompletion {

    private final DeviceBackend dev;
    private final int queue;
    final EventLoop loop;
    private final Hypervisor hv;
    private final int domid;
    private final BlkifCodec codec;
    private final int requestSize;
    private final int responseSize;
    private final GrantMapping ringMapping;
    private final BackRing ring;
    private final ResponsePublisher publisher;
    private final BarrierGate barriers = new BarrierGate();
    /** This ring's statistics, read by {@link DeviceBackend#stats()}. */
    final RingCounters counters = new RingCounters();
    private final SegmentMover mover;
    private final IndirectSegments indirect;
    private final RequestDispatcher dispatcher;
    /** Set by {@link #bind} on the caller's thread; events may start the ring on its loop before that. */
    private volatile EventChannel evtchn;
    private final MemorySegment requestCopy;
    private final MemorySegment responseScratch;
    private final InFlight[] all;
    private final ArrayDeque<InFlight> free = new ArrayDeque<>();
    private final AtomicBoolean kickScheduled = new AtomicBoolean();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();

    private int inFlight;
    private long roundNanos;
    private boolean processing;
    /** The last round stopped for want of slots (or behind a barrier) without arming req_event. */
    private boolean stalled;
    /** Fatal frontend error: no more requests are taken. */
    private boolean stopped;
    private boolean closing;
    private boolean released;

    RingServer(DeviceBackend dev, int queue, EventLoop loop, QueueSpec spec) throws HypervisorException {
        BackendSpec s = dev.spec();
        this.dev = dev;
        this.queue = queue;
        this.loop = loop;
        this.hv = s.hypervisor();
        this.domid = s.frontendDomid();
        BlockDevice device = s.device();
        this.codec = s.abi().codec();
        this.requestSize = s.abi().requestSize();
        this.responseSize = s.abi().responseSize();
        int maxSegments = Math.max(BlkifLayout.MAX_SEGMENTS_PER_REQUEST, s.maxIndirectSegments());
        this.ringMapping = hv.map(domid, spec.ringRefs(), false);
        this.ring = new BackRing(new RingPages(pages(ringMapping)), s.abi().entrySize());
        this.publisher = new ResponsePublisher(ring, loop, dev.log, queue);
        GrantCopier copier = new GrantCopier(
                hv.newCopyBatch(Math.max(maxSegments, BlkifLayout.MAX_INDIRECT_PAGES_PER_REQUEST)));
        this.mover = SegmentMover.of(s.effectiveDataPath(), hv, domid, copier);
        this.indirect = new IndirectSegments(copier, domid, s.maxIndirectSegments());
        RequestValidator validator = new RequestValidator(device.size(),
                s.readOnly() || device.has(Capability.READ_ONLY), s.maxIndirectSegments());
        this.dispatcher = new RequestDispatcher(device, validator, indirect, s.maxIndirectSegments() > 0,
                new DataTransfer(device, mover, this, s.name()), barriers, this);
        this.requestCopy = MemorySegment.ofArray(new byte[requestSize]);
        this.responseScratch = MemorySegment.ofArray(new byte[responseSize]);
        this.all = new InFlight[ring.size()];
        for (int i = 0; i < all.length; i++) {
            all[i] = new InFlight(maxSegments);
            free.add(all[i]);
        }
    }

    private static MemorySegment[] pages(GrantMapping m) {
        MemorySegment[] p = new MemorySegment[m.pageCount()];
        for (int i = 0; i < p.length; i++) {
            p[i] = m.page(i);
        }
        return p;
    }

    /** Binds the event channel and looks for requests already on the ring. */
    void bind(int port) throws HypervisorException {
        evtchn = hv.bindInterdomain(domid, port, this::kick, loop);
        publisher.bind(evtchn);
        kick();
    }

    int ringSize() {
        return ring.size();
    }

    /** A notification from the guest: run the ring on its loop (coalesced). */
    void kick() {
        if (loop.inEventLoop()) {
            // The hypervisor delivered the event on our own loop: no hop.
            process();
            return;
        }
        if (kickScheduled.compareAndSet(false, true)) {
            loop.execute(() -> {
                kickScheduled.set(false);
                process();
            });
        }
    }

    private boolean blocked() {
        return stopped || closing || barriers.closed();
    }

    private void process() {
        if (released) {
            return;
        }
        if (blocked()) {
            stalled = true;
            return;
        }
        processing = true;
        try {
            for (;;) {
                int rp = ring.reqProd();
                if (ring.requestProdOverflow(rp)) {
                    fatal("frontend overran the ring: req_prod " + Integer.toUnsignedString(rp) + " is more than "
                            + ring.size() + " ahead of rsp_prod " + Integer.toUnsignedString(ring.rspProdPvt()));
                    return;
                }
                // One clock read per batch taken off the ring: the requests of a batch arrived together.
                roundNanos = System.nanoTime();
                publisher.beginRound(rp);
                while (ring.reqCons() != rp && !ring.requestConsOverflow() && !blocked()) {
                    InFlight r = free.poll();
                    if (r == null) {
                        break;
                    }
                    ring.takeRequest(requestCopy, requestSize);
                    codec.decode(requestCopy, r.req);
                    start(r);
                }
                if (blocked() || ring.requestConsOverflow() || free.isEmpty()) {
                    // No req_event armed: a completion must look at the ring again.
                    stalled = true;
                    break;
                }
                if (!ring.finalCheckForRequests()) {
                    break;
                }
            }
        } catch (RuntimeException e) {
            // A bug, not guest input (all guest input is validated): stop this ring rather than spin.
            fatal("internal error: " + e);
            DeviceBackend.LOG.error("{} queue {}: ring stopped", dev.spec().name(), queue, e);
        } finally {
            processing = false;
            publisher.push();
        }
        // Requests that completed synchronously above may have drained the ring for a waiting barrier.
        runDrainedBarrier();
    }

    private void start(InFlight r) {
        r.busy = true;
        r.answered = false;
        r.startNanos = roundNanos;
        r.bytes = 0;
        r.nseg = 0;
        inFlight++;
        counters.started();
        dispatcher.dispatch(r, inFlight);
    }

    /** Starts the waiting barrier once everything before it is answered; true if it started. */
    private boolean runDrainedBarrier() {
        if (closing || released) {
            return false;
        }
        InFlight b = barriers.takeIfDrained(inFlight);
        if (b == null) {
            return false;
        }
        dispatcher.barrier(b);
        return true;
    }

    @Override
    public void onLoop(Runnable task) {
        if (loop.inEventLoop()) {
            task.run();
        } else {
            loop.execute(task);
        }
    }

    @Override
    public boolean released() {
        return released;
    }

    @Override
    public void finish(InFlight r, Throwable error) {
        if (r.answered || released) {
            return;
        }
        if (error == null) {
            answer(r, Blkif.RSP_OKAY);
            return;
        }
        BlockError e = BlockDeviceException.errorOf(error);
        dev.log.warn(Blkif.opName(r.req.operation) + " id " + r.req.id + " failed: "
                + BlockDeviceException.unwrap(error).getMessage());
        answer(r, e == BlockError.ENOTSUP ? Blkif.RSP_EOPNOTSUPP : Blkif.RSP_ERROR);
    }

    @Override
    public void refuse(InFlight r, short status, String reason) {
        dev.log.warn("queue " + queue + ": " + r.req + ": " + reason);
        counters.badRequest();
        dev.listenerSafe(l -> l.onBadRequest(queue, reason));
        answer(r, status);
    }

    @Override
    public void answer(InFlight r, short status) {
        if (r.answered) {
            return;
        }
        r.answered = true;
        // The operation blkfront sent, but for INDIRECT its indirect_op: blkfront compares the response's
        // operation with that and disables the disk on a mismatch (as blkback answers, so must we).
        codec.encodeResponse(responseScratch, r.req.id, r.req.dataOperation(), status);
        if (!released) {
            publisher.put(responseScratch, responseSize);
        }
        // Counted before the response can be pushed: a guest that sees it finds it in the statistics.
        long latency = System.nanoTime() - r.startNanos;
        int dataOp = r.req.dataOperation();
        counters.answered(dataOp, r.bytes, latency, status);
        if (dev.spec().listener() != BackendListener.NONE) {
            dev.listenerSafe(l -> l.onRequest(queue, dataOp, r.bytes, latency, status));
        }
        if (!released && processing) {
            publisher.answeredInRound();
        }
        if (r.req.operation == Blkif.OP_WRITE_BARRIER) {
            barriers.finished();
        }
        r.busy = false;
        inFlight--;
        free.push(r);
        if (!processing) {
            publisher.schedulePush();
            afterCompletion();
        }
    }

    private void afterCompletion() {
        if (runDrainedBarrier()) {
            return;
        }
        if (closing) {
            if (inFlight == 0) {
                release();
            }
            return;
        }
        if (stalled && !barriers.closed()) {
            stalled = false;
            process();
        }
    }

    private void fatal(String reason) {
        if (stopped) {
            return;
        }
        stopped = true;
        DeviceBackend.LOG.error("{} queue {}: {}; device shut down", dev.spec().name(), queue, reason);
        dev.fatal(reason);
    }

    /** Stops taking requests; completes when every in-flight request is answered and all is released. */
    CompletableFuture<Void> close(long timeoutNanos) {
        onLoop(() -> {
            if (closing) {
                return;
            }
            closing = true;
            InFlight b = barriers.cancel();
            if (b != null) {
                // Requests taken after nothing: the barrier never started, answer it now.
                answer(b, Blkif.RSP_ERROR);
            }
            if (inFlight == 0) {
                release();
                return;
            }
            loop.schedule(this::forceClose, timeoutNanos, TimeUnit.NANOSECONDS);
        });
        return closed;
    }

    private void forceClose() {
        if (released) {
            return;
        }
        for (InFlight r : all) {
            if (r.busy && !r.answered) {
                DeviceBackend.LOG.warn("{} queue {}: {} still running at close, answered with an error",
                        dev.spec().name(), queue, r.req);
                processing = true;
                answer(r, Blkif.RSP_ERROR);
                processing = false;
            }
        }
        publisher.push();
        release();
    }

    private void release() {
        if (released) {
            return;
        }
        publisher.push();
        publisher.close();
        released = true;
        if (evtchn != null) {
            evtchn.close();
        }
        mover.close();
        ringMapping.close();
        // The indirect pages may still be the target of nothing: all copies run on this thread.
        indirect.close();
        closed.complete(null);
    }

    /** Releases what the constructor acquired when starting the device fails. */
    void abandon() {
        if (evtchn != null) {
            evtchn.close();
        }
        ringMapping.close();
        indirect.close();
        released = true;
        closed.complete(null);
    }
}
