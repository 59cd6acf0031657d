package io.tapdisk4j.ring.backend;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.blkif.BlkifCodec;
import io.tapdisk4j.ring.blkif.BlkifLayout;
import io.tapdisk4j.ring.blkif.BlkifRequest;
import io.tapdisk4j.ring.hv.EventChannel;
import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.GrantStatus;
import io.tapdisk4j.ring.hv.Hypervisor;
import io.tapdisk4j.ring.hv.HypervisorException;
import io.tapdisk4j.ring.shared.BackRing;
import io.tapdisk4j.ring.shared.RingPages;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Serves one ring (one queue) on one event loop: takes requests off the ring (each copied once into private
 * memory, then validated), moves payloads by the device's data path, submits to the {@link BlockDevice},
 * and answers in completion order. All state is confined to {@link #loop}; device completions that arrive
 * elsewhere hop back to it. Nothing a guest writes can make this throw out of the loop: every failure
 * becomes an error response, and a ring overrun shuts the device down.
 */
final class RingServer {

    private final DeviceBackend dev;
    private final int queue;
    final EventLoop loop;
    private final Hypervisor hv;
    private final int domid;
    private final BlockDevice device;
    private final DataPath path;
    private final BlkifCodec codec;
    private final int requestSize;
    private final int responseSize;
    private final RequestValidator validator;
    private final GrantMapping ringMapping;
    private final BackRing ring;
    /** Set by {@link #bind} on the caller's thread; events may start the ring on its loop before that. */
    private volatile EventChannel evtchn;
    private final GrantCopyBatch batch;
    private final MemorySegment requestCopy;
    private final MemorySegment responseScratch;
    private final Arena indirectArena = Arena.ofShared();
    private final MemorySegment indirectPages;
    private final InFlight[] all;
    private final ArrayDeque<InFlight> free = new ArrayDeque<>();
    private final PersistentGrants persistent;
    private final AtomicBoolean kickScheduled = new AtomicBoolean();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();

    private int inFlight;
    private long roundNanos;
    private boolean processing;
    private boolean needPush;
    /** Responses put on the ring in this processing round and not yet pushed. */
    private int unpushed;
    /**
     * Pushed during a round at most every this many responses, so the frontend refills while we keep
     * working; a quarter of the ring keeps the frontend ahead while costing few wake-ups (each one a
     * cross-CPU wake).
     */
    private final int pushBatch;
    /**
     * This round's push interval: half of what the frontend had outstanding when the round began, up to
     * {@link #pushBatch}. With a few large requests in flight, holding their responses to the end of the
     * round left the frontend idle and then the ring waiting for it (four 1 MiB requests: 45% of memcpy
     * instead of about 60%); with many, half of them answered is plenty to refill.
     */
    private int pushEvery;
    /** req_prod as this batch began: requests up to it are the batch. */
    private int batchProd;
    private boolean pushScheduled;
    /** The last round stopped for want of slots (or behind a barrier) without arming req_event. */
    private boolean stalled;
    private InFlight barrierWaiting;
    private boolean barrierRunning;
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
        this.device = s.device();
        this.path = s.effectiveDataPath();
        this.codec = s.abi().codec();
        this.requestSize = s.abi().requestSize();
        this.responseSize = s.abi().responseSize();
        this.validator = new RequestValidator(device.size(), s.readOnly() || device.has(Capability.READ_ONLY),
                s.maxIndirectSegments());
        int maxSegments = Math.max(BlkifLayout.MAX_SEGMENTS_PER_REQUEST, s.maxIndirectSegments());
        this.ringMapping = hv.map(domid, spec.ringRefs(), false);
        this.ring = new BackRing(new RingPages(pages(ringMapping)), s.abi().entrySize());
        this.batch = hv.newCopyBatch(Math.max(maxSegments, BlkifLayout.MAX_INDIRECT_PAGES_PER_REQUEST));
        this.requestCopy = MemorySegment.ofArray(new byte[requestSize]);
        this.responseScratch = MemorySegment.ofArray(new byte[responseSize]);
        int indirectBytes = s.maxIndirectSegments() == 0 ? 8
                : (s.maxIndirectSegments() + BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME - 1)
                / BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME * BlkifLayout.PAGE_SIZE;
        this.indirectPages = indirectArena.allocate(indirectBytes, 4096);
        this.all = new InFlight[ring.size()];
        for (int i = 0; i < all.length; i++) {
            all[i] = new InFlight(maxSegments);
            free.add(all[i]);
        }
        this.persistent = path == DataPath.PERSISTENT ? new PersistentGrants(hv, domid) : null;
        this.pushBatch = Math.max(1, ring.size() / 4);
        this.pushEvery = pushBatch;
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
        return stopped || closing || barrierWaiting != null || barrierRunning;
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
                pushEvery = Math.clamp((rp - ring.rspProdPvt()) / 2, 1, pushBatch);
                batchProd = rp;
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
            pushResponses();
        }
        // Requests that completed synchronously above may have drained the ring for a waiting barrier.
        if (barrierWaiting != null && inFlight == 1 && !closing) {
            InFlight b = barrierWaiting;
            barrierWaiting = null;
            barrier(b);
        }
    }

    private void start(InFlight r) {
        r.busy = true;
        r.answered = false;
        r.startNanos = roundNanos;
        r.bytes = 0;
        r.nseg = 0;
        inFlight++;
        dev.counters.inFlight.increment();
        BlkifRequest q = r.req;
        switch (q.operation) {
            case Blkif.OP_READ, Blkif.OP_WRITE -> {
                String bad = validator.direct(q);
                if (bad == null) {
                    bad = validator.segments(q, q.nrSegments);
                }
                if (bad != null) {
                    refuse(r, Blkif.RSP_ERROR, bad);
                } else {
                    readWrite(r, q.operation, q.nrSegments, false);
                }
            }
            case Blkif.OP_WRITE_BARRIER -> {
                String bad = validator.direct(q);
                if (bad == null) {
                    bad = validator.segments(q, q.nrSegments);
                }
                if (bad != null) {
                    refuse(r, Blkif.RSP_ERROR, bad);
                } else if (inFlight > 1) {
                    barrierWaiting = r;
                } else {
                    barrier(r);
                }
            }
            case Blkif.OP_FLUSH_DISKCACHE -> {
                if (!device.has(Capability.FLUSH)) {
                    refuse(r, Blkif.RSP_EOPNOTSUPP, "flush not supported by " + device.describe());
                } else {
                    device.flush().whenComplete((v, e) -> onLoop(() -> finish(r, e)));
                }
            }
            case Blkif.OP_DISCARD -> discard(r);
            case Blkif.OP_INDIRECT -> indirect(r);
            default -> refuse(r, Blkif.RSP_EOPNOTSUPP, "unsupported operation " + Blkif.opName(q.operation));
        }
    }

    private void discard(InFlight r) {
        BlkifRequest q = r.req;
        if (!device.has(Capability.DISCARD)) {
            refuse(r, Blkif.RSP_EOPNOTSUPP, "discard not supported by " + device.describe());
            return;
        }
        boolean secure = (q.discardFlag & Blkif.DISCARD_SECURE) != 0;
        if (secure && !device.has(Capability.SECURE_DISCARD)) {
            refuse(r, Blkif.RSP_EOPNOTSUPP, "secure discard not supported by " + device.describe());
            return;
        }
        String bad = validator.discard(q);
        if (bad != null) {
            refuse(r, Blkif.RSP_ERROR, bad);
            return;
        }
        device.discard(q.sectorNumber << 9, q.nrSectors << 9, secure).whenComplete((v, e) -> onLoop(() -> finish(r, e)));
    }

    /** Fetches the indirect segment pages by grant copy (private memory again), then runs the data operation. */
    private void indirect(InFlight r) {
        BlkifRequest q = r.req;
        if (dev.spec().maxIndirectSegments() == 0) {
            refuse(r, Blkif.RSP_EOPNOTSUPP, "indirect descriptors not negotiated");
            return;
        }
        String bad = validator.indirect(q);
        if (bad != null) {
            refuse(r, Blkif.RSP_ERROR, bad);
            return;
        }
        int n = q.nrSegments;
        int pages = (n + BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME - 1) / BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME;
        batch.clear();
        for (int p = 0; p < pages; p++) {
            int segs = Math.min(BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME, n - p * BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME);
            int len = segs * BlkifLayout.SEGMENT_SIZE;
            batch.fromGuest(domid, q.indirectGrefs[p], 0, indirectPages, (long) p * BlkifLayout.PAGE_SIZE, len);
        }
        String failed = executeBatch("indirect page");
        if (failed != null) {
            refuse(r, Blkif.RSP_ERROR, failed);
            return;
        }
        BlkifCodec.decodeSegments(indirectPages, 0, n, q, 0);
        bad = validator.segments(q, n);
        if (bad != null) {
            refuse(r, Blkif.RSP_ERROR, bad);
            return;
        }
        readWrite(r, q.indirectOp, n, false);
    }

    /** Runs the batch; null when every segment succeeded, else what failed. */
    private String executeBatch(String what) {
        try {
            batch.execute();
        } catch (HypervisorException e) {
            batch.clear();
            return "grant copy of " + what + " failed: " + e.getMessage();
        }
        for (int i = 0; i < batch.size(); i++) {
            int st = batch.status(i);
            if (st != GrantStatus.OKAY) {
                batch.clear();
                return "grant copy of " + what + " " + i + " failed: " + GrantStatus.name(st);
            }
        }
        batch.clear();
        return null;
    }

    private void barrier(InFlight r) {
        barrierRunning = true;
        CompletableFuture<Void> flushed = device.has(Capability.FLUSH) ? device.flush()
                : CompletableFuture.completedFuture(null);
        flushed.whenComplete((v, e) -> onLoop(() -> {
            if (e != null || r.req.nrSegments == 0) {
                finish(r, e);
            } else {
                readWrite(r, Blkif.OP_WRITE, r.req.nrSegments, true);
            }
        }));
    }

    private void readWrite(InFlight r, int op, int nseg, boolean fua) {
        BlkifRequest q = r.req;
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
                read.whenComplete((data, e) -> onLoop(() -> readDone(r, data, e)));
            }
            return;
        }
        ByteBuf data;
        try {
            data = path == DataPath.UNSAFE_MAP ? mapForDevice(r) : gather(r);
        } catch (GrantException e) {
            refuse(r, Blkif.RSP_ERROR, e.getMessage());
            return;
        }
        if (data == null) {
            return;
        }
        CompletableFuture<Void> written = device.write(r.offset, data, fua && device.has(Capability.FUA));
        if (written.isDone() && !written.isCompletedExceptionally()) {
            finish(r, null);
        } else {
            written.whenComplete((v, e) -> onLoop(() -> finish(r, e)));
        }
    }

    /** Copies a write's payload from the guest into a new dom0 buffer; null after refusing the request. */
    private ByteBuf gather(InFlight r) throws GrantException {
        BlkifRequest q = r.req;
        ByteBuf buf = Buffers.direct(r.bytes);
        boolean ok = false;
        try {
            MemorySegment local = LocalMemory.of(buf, 0, r.bytes);
            long pos = 0;
            switch (path) {
                case COPY -> {
                    batch.clear();
                    for (int i = 0; i < r.nseg; i++) {
                        int len = q.segmentBytes(i);
                        batch.fromGuest(domid, q.gref[i], q.firstSect(i) << 9, local, pos, len);
                        pos += len;
                    }
                    String failed = executeBatch("write segment");
                    if (failed != null) {
                        refuse(r, Blkif.RSP_ERROR, failed);
                        return null;
                    }
                }
                case MAP_COPY -> {
                    try (GrantMapping m = hv.map(domid, grefs(q, r.nseg), true)) {
                        for (int i = 0; i < r.nseg; i++) {
                            int len = q.segmentBytes(i);
                            MemorySegment.copy(m.page(i), q.firstSect(i) << 9, local, pos, len);
                            pos += len;
                        }
                    }
                }
                case PERSISTENT -> copyPersistent(r, local, false);
                default -> throw new IllegalStateException("no gather for " + path);
            }
            buf.writerIndex(r.bytes);
            ok = true;
            return buf;
        } finally {
            if (!ok) {
                buf.release();
            }
        }
    }

    /**
     * Copies a request's payload between its persistent grants and dom0 memory. New grants are mapped
     * together into the ring's cache while it has room; those that no longer fit are mapped together for
     * this request only.
     */
    private void copyPersistent(InFlight r, MemorySegment local, boolean toGuest) throws GrantException {
        BlkifRequest q = r.req;
        int[] missing = null;
        int nMissing = 0;
        for (int i = 0; i < r.nseg; i++) {
            int ref = q.gref[i];
            if (persistent.page(ref) == null && !contains(missing, nMissing, ref)) {
                if (missing == null) {
                    missing = new int[r.nseg];
                }
                missing[nMissing++] = ref;
            }
        }
        int kept = Math.min(nMissing, persistent.room());
        if (kept > 0) {
            persistent.add(missing, kept);
        }
        GrantMapping transientMap = kept < nMissing
                ? hv.map(domid, Arrays.copyOfRange(missing, kept, nMissing), !toGuest) : null;
        try {
            long pos = 0;
            for (int i = 0; i < r.nseg; i++) {
                int len = q.segmentBytes(i);
                MemorySegment page = persistent.page(q.gref[i]);
                if (page == null) {
                    page = transientMap.page(indexOf(missing, kept, nMissing, q.gref[i]));
                }
                copy(page, q.firstSect(i) << 9, local, pos, len, toGuest);
                pos += len;
            }
        } finally {
            if (transientMap != null) {
                transientMap.close();
            }
        }
    }

    private static boolean contains(int[] refs, int n, int ref) {
        for (int k = 0; k < n; k++) {
            if (refs[k] == ref) {
                return true;
            }
        }
        return false;
    }

    private static int indexOf(int[] refs, int from, int to, int ref) {
        for (int k = from; k < to; k++) {
            if (refs[k] == ref) {
                return k - from;
            }
        }
        throw new IllegalStateException("grant " + ref + " neither persistent nor mapped for the request");
    }

    private static void copy(MemorySegment page, int pageOffset, MemorySegment local, long pos, int len, boolean toGuest) {
        if (toGuest) {
            MemorySegment.copy(local, pos, page, pageOffset, len);
        } else {
            MemorySegment.copy(page, pageOffset, local, pos, len);
        }
    }

    /** unsafe-map: the guest's mapped pages themselves, unmapped when the device releases the buffer. */
    private ByteBuf mapForDevice(InFlight r) throws GrantException {
        BlkifRequest q = r.req;
        GrantMapping m = hv.map(domid, grefs(q, r.nseg), true);
        CompositeByteBuf buf = new CompositeByteBuf(Buffers.allocator(), true, Math.max(2, r.nseg)) {
            @Override
            protected void deallocate() {
                super.deallocate();
                m.close();
            }
        };
        for (int i = 0; i < r.nseg; i++) {
            buf.addComponent(true, Unpooled.wrappedBuffer(
                    m.page(i).asSlice((long) q.firstSect(i) << 9, q.segmentBytes(i)).asByteBuffer()));
        }
        return buf;
    }

    private static int[] grefs(BlkifRequest q, int n) {
        int[] refs = new int[n];
        System.arraycopy(q.gref, 0, refs, 0, n);
        return refs;
    }

    private void readDone(InFlight r, ByteBuf data, Throwable error) {
        if (r.answered || released) {
            if (data != null) {
                data.release();
            }
            return;
        }
        if (error != null) {
            finish(r, error);
            return;
        }
        try {
            if (data.readableBytes() != r.bytes) {
                // A short read must never let the guest see a buffer's stale remainder.
                answer(r, Blkif.RSP_ERROR);
                DeviceBackend.LOG.warn("{}: device returned {} bytes for a {}-byte read", dev.spec().name(),
                        data.readableBytes(), r.bytes);
                return;
            }
            String failed = scatter(r, data);
            if (failed != null) {
                refuse(r, Blkif.RSP_ERROR, failed);
            } else {
                answer(r, Blkif.RSP_OKAY);
            }
        } catch (GrantException e) {
            refuse(r, Blkif.RSP_ERROR, e.getMessage());
        } finally {
            data.release();
        }
    }

    /** Copies a completed read into the guest's pages; null on success, else why it failed. */
    private String scatter(InFlight r, ByteBuf data) throws GrantException {
        BlkifRequest q = r.req;
        MemorySegment local = LocalMemory.of(data, data.readerIndex(), r.bytes);
        long pos = 0;
        switch (path) {
            case COPY -> {
                batch.clear();
                for (int i = 0; i < r.nseg; i++) {
                    int len = q.segmentBytes(i);
                    batch.toGuest(local, pos, domid, q.gref[i], q.firstSect(i) << 9, len);
                    pos += len;
                }
                return executeBatch("read segment");
            }
            case MAP_COPY, UNSAFE_MAP -> {
                try (GrantMapping m = hv.map(domid, grefs(q, r.nseg), false)) {
                    for (int i = 0; i < r.nseg; i++) {
                        int len = q.segmentBytes(i);
                        MemorySegment.copy(local, pos, m.page(i), q.firstSect(i) << 9, len);
                        pos += len;
                    }
                }
                return null;
            }
            case PERSISTENT -> {
                copyPersistent(r, local, true);
                return null;
            }
            default -> throw new IllegalStateException(path.toString());
        }
    }

    private void onLoop(Runnable task) {
        if (loop.inEventLoop()) {
            task.run();
        } else {
            loop.execute(task);
        }
    }

    /** Completion of a device operation: OKAY, or the error it failed with. */
    private void finish(InFlight r, Throwable error) {
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

    /** A request refused before or while moving its data: error response plus a rate-limited log line. */
    private void refuse(InFlight r, short status, String reason) {
        dev.log.warn("queue " + queue + ": " + r.req + ": " + reason);
        dev.counters.badRequests.increment();
        dev.listenerSafe(l -> l.onBadRequest(queue, reason));
        answer(r, status);
    }

    private void answer(InFlight r, short status) {
        if (r.answered) {
            return;
        }
        r.answered = true;
        // The operation blkfront sent, but for INDIRECT its indirect_op: blkfront compares the response's
        // operation with that and disables the disk on a mismatch (as blkback answers, so must we).
        codec.encodeResponse(responseScratch, r.req.id, r.req.dataOperation(), status);
        if (!released) {
            ring.putResponse(responseScratch, responseSize);
            needPush = true;
        }
        // Counted before the response can be pushed: a guest that sees it finds it in the statistics.
        long latency = System.nanoTime() - r.startNanos;
        int dataOp = r.req.dataOperation();
        dev.counters.answered(dataOp, r.bytes, latency, status);
        dev.counters.inFlight.decrement();
        if (dev.spec().listener() != BackendListener.NONE) {
            dev.listenerSafe(l -> l.onRequest(queue, dataOp, r.bytes, latency, status));
        }
        if (!released && processing && ++unpushed >= pushEvery && ring.reqCons() != batchProd) {
            // A long round answering synchronously would otherwise hold every response until its end,
            // and the frontend would idle while we copy (blkback pushes per response for the same reason).
            // The batch's last response waits for the round's end, a moment later, after the final check.
            pushResponses();
        }
        if (r.req.operation == Blkif.OP_WRITE_BARRIER) {
            barrierRunning = false;
        }
        r.busy = false;
        inFlight--;
        free.push(r);
        if (!processing) {
            schedulePush();
            afterCompletion();
        }
    }

    private void afterCompletion() {
        if (barrierWaiting != null && inFlight == 1 && !closing && !released) {
            InFlight b = barrierWaiting;
            barrierWaiting = null;
            barrier(b);
            return;
        }
        if (closing) {
            if (inFlight == 0) {
                release();
            }
            return;
        }
        if (stalled && !barrierRunning && barrierWaiting == null) {
            stalled = false;
            process();
        }
    }

    /**
     * Completions arriving one by one from the device (outside a processing round) publish their
     * responses once per loop iteration: the push task runs after the completions already queued.
     */
    private void schedulePush() {
        if (!pushScheduled) {
            pushScheduled = true;
            loop.execute(() -> {
                pushScheduled = false;
                pushResponses();
            });
        }
    }

    private void pushResponses() {
        EventChannel ch = evtchn;
        if (ch == null) {
            // Not bound yet (a guest's event ran the ring first): bind() runs the ring again and pushes then.
            return;
        }
        if (needPush && !released) {
            needPush = false;
            unpushed = 0;
            if (ring.pushResponsesAndCheckNotify()) {
                try {
                    ch.notifyRemote();
                } catch (HypervisorException e) {
                    dev.log.warn("queue " + queue + ": cannot notify the frontend: " + e.getMessage());
                }
            }
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
            if (barrierWaiting != null) {
                // Requests taken after nothing: the barrier never started, answer it now.
                InFlight b = barrierWaiting;
                barrierWaiting = null;
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
        pushResponses();
        release();
    }

    private void release() {
        if (released) {
            return;
        }
        pushResponses();
        released = true;
        if (evtchn != null) {
            evtchn.close();
        }
        if (persistent != null) {
            persistent.close();
        }
        ringMapping.close();
        // The indirect buffer may still be the target of nothing: all copies run on this thread.
        indirectArena.close();
        closed.complete(null);
    }

    /** Releases what the constructor acquired when starting the device fails. */
    void abandon() {
        if (evtchn != null) {
            evtchn.close();
        }
        ringMapping.close();
        indirectArena.close();
        released = true;
        closed.complete(null);
    }
}
