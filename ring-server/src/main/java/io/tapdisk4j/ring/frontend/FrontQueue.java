package io.tapdisk4j.ring.frontend;

import io.tapdisk4j.ring.backend.QueueSpec;
import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.blkif.BlkifCodec;
import io.tapdisk4j.ring.blkif.BlkifLayout;
import io.tapdisk4j.ring.blkif.BlkifRequest;
import io.tapdisk4j.ring.hv.HypervisorException;
import io.tapdisk4j.ring.hv.sim.GuestPort;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.shared.FrontRing;
import io.tapdisk4j.ring.shared.RingPages;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/** One ring of the emulated frontend. Methods are synchronized; futures complete outside the lock. */
final class FrontQueue {

    private final BlkfrontEmulator emu;
    private final SimGuest guest;
    private final int[] ringFrames;
    private final int[] ringRefs;
    final FrontRing ring;
    final GuestPort port;
    private final BlkifCodec codec;
    private final int requestSize;
    private final int responseSize;
    private final MemorySegment requestScratch;
    private final MemorySegment responseScratch;
    private final Pending[] byTag;
    /** Free request ids, a stack of ints (no boxing per request). */
    private final int[] freeTags;
    private int freeTagCount;
    private final HashMap<Long, CompletableFuture<BlkifResponse>> raw = new HashMap<>();
    private final ArrayDeque<Pending> backlog = new ArrayDeque<>();
    private final int[][] indirectFrames;
    private final int[][] indirectRefs;
    private int outstanding;
    private boolean closed;
    /**
     * Why this queue stopped, as Linux blkfront stops a disk for good ("disabled for further use") when a
     * response names no pending request or the wrong operation; null while the queue works.
     */
    private String disabled;

    /** A request not yet answered: what to complete and which transient grants to end. */
    private static final class Pending {
        final BlkifRequest req;
        final int[] transientRefs;
        final CompletableFuture<BlkifResponse> future = new CompletableFuture<>();
        final boolean isRaw;
        final Consumer<BlkfrontEmulator.RawEntry> rewrite;

        Pending(BlkifRequest req, int[] transientRefs, boolean isRaw, Consumer<BlkfrontEmulator.RawEntry> rewrite) {
            this.req = req;
            this.transientRefs = transientRefs;
            this.isRaw = isRaw;
            this.rewrite = rewrite;
        }
    }

    FrontQueue(BlkfrontEmulator emu, int index) throws HypervisorException {
        this.emu = emu;
        this.guest = emu.guest();
        FrontendOptions o = emu.options();
        int pages = 1 << o.ringOrder();
        ringFrames = new int[pages];
        ringRefs = new int[pages];
        MemorySegment[] segs = new MemorySegment[pages];
        for (int i = 0; i < pages; i++) {
            ringFrames[i] = guest.allocateFrame();
            segs[i] = guest.frame(ringFrames[i]);
            ringRefs[i] = guest.grant(ringFrames[i], emu.backendDomid(), false);
        }
        ring = new FrontRing(new RingPages(segs), o.abi().entrySize(), true);
        codec = o.abi().codec();
        requestSize = o.abi().requestSize();
        responseSize = o.abi().responseSize();
        requestScratch = MemorySegment.ofArray(new byte[requestSize]);
        responseScratch = MemorySegment.ofArray(new byte[responseSize]);
        byTag = new Pending[ring.size()];
        freeTags = new int[ring.size()];
        for (int t = byTag.length - 1; t >= 0; t--) {
            freeTags[freeTagCount++] = t;
        }
        indirectFrames = new int[ring.size()][];
        indirectRefs = new int[ring.size()][];
        port = guest.allocatePort(emu.backendDomid(), this::onEvent);
    }

    QueueSpec spec() {
        return new QueueSpec(ringRefs, port.port());
    }

    synchronized int outstanding() {
        return outstanding;
    }

    /** A data request over {@code [offset, offset+length)} of {@code buf}, sector aligned. */
    CompletableFuture<BlkifResponse> data(int op, long sector, GuestBuffer buf, int offset, int length) {
        if (buf == null || length == 0) {
            if (op != Blkif.OP_WRITE_BARRIER) {
                throw new IllegalArgumentException("READ and WRITE need data");
            }
            BlkifRequest r = new BlkifRequest(0);
            r.operation = op;
            r.sectorNumber = sector;
            return submit(r, null, null);
        }
        if (offset % 512 != 0 || length % 512 != 0 || offset < 0 || offset + length > buf.byteSize()) {
            throw new IllegalArgumentException("buffer range " + offset + "+" + length + " not sector aligned or outside "
                    + buf.byteSize() + " bytes");
        }
        int firstPage = offset / 4096;
        int lastPage = (offset + length - 1) / 4096;
        int nseg = lastPage - firstPage + 1;
        int max = emu.options().maxIndirectSegments() > 0 ? emu.options().maxIndirectSegments()
                : BlkifLayout.MAX_SEGMENTS_PER_REQUEST;
        if (nseg > Math.max(max, BlkifLayout.MAX_SEGMENTS_PER_REQUEST)) {
            throw new IllegalArgumentException(nseg + " segments exceed the " + max + " this frontend may use");
        }
        BlkifRequest r = new BlkifRequest(nseg);
        r.operation = op;
        r.sectorNumber = sector;
        r.nrSegments = nseg;
        int[] transientRefs = buf.persistentRefs == null ? new int[nseg] : null;
        boolean readOnly = op != Blkif.OP_READ;
        if (transientRefs != null) {
            guest.grantAll(buf.frames, firstPage, nseg, emu.backendDomid(), readOnly, transientRefs);
        }
        for (int s = 0; s < nseg; s++) {
            int page = firstPage + s;
            int start = Math.max(offset, page * 4096) - page * 4096;
            int end = Math.min(offset + length, (page + 1) * 4096) - page * 4096;
            int ref = transientRefs != null ? transientRefs[s] : buf.persistentRefs[page];
            r.segment(s, ref, start / 512, (end - 1) / 512);
        }
        return submit(r, transientRefs, null);
    }

    CompletableFuture<BlkifResponse> submit(BlkifRequest r, int[] transientRefs, Consumer<BlkfrontEmulator.RawEntry> rw) {
        Pending p = new Pending(r, transientRefs, false, rw);
        enqueue(p);
        return p.future;
    }

    CompletableFuture<BlkifResponse> raw(BlkifRequest r, Consumer<BlkfrontEmulator.RawEntry> rewrite) {
        Pending p = new Pending(r, null, true, rewrite);
        enqueue(p);
        return p.future;
    }

    private void enqueue(Pending p) {
        boolean notify;
        synchronized (this) {
            if (closed || disabled != null) {
                p.future.completeExceptionally(new IllegalStateException(
                        disabled != null ? disabled : "frontend closed"));
                return;
            }
            backlog.add(p);
            if (Thread.currentThread() == completer) {
                // Submitted from a completion callback: pushed with the rest of the batch, one kick for all
                // (as blkfront kicks once per batch of requests).
                return;
            }
            notify = issueBacklog();
        }
        if (notify) {
            port.notifyBackend();
        }
    }

    /** Puts as many backlog requests on the ring as fit; true when the backend must be notified. */
    private boolean issueBacklog() {
        boolean any = false;
        boolean notify = false;
        while (!backlog.isEmpty() && ring.freeRequests() > 0) {
            Pending p = backlog.peek();
            if (!p.isRaw && freeTagCount == 0) {
                break;
            }
            backlog.poll();
            BlkifRequest r = p.req;
            if (!p.isRaw) {
                int tag = freeTags[--freeTagCount];
                r.id = tag;
                byTag[tag] = p;
                if (r.nrSegments > BlkifLayout.MAX_SEGMENTS_PER_REQUEST && r.operation != Blkif.OP_INDIRECT) {
                    toIndirect(r, tag);
                }
            } else {
                raw.put(r.id, p.future);
            }
            codec.encode(r, requestScratch);
            int idx = ring.reqProdPvt();
            ring.putRequest(requestScratch, requestSize);
            outstanding++;
            if (p.rewrite != null) {
                notify |= ring.pushRequestsAndCheckNotify();
                p.rewrite.accept(new BlkfrontEmulator.RawEntry(ring.pages(), ring.entryOffset(idx), idx));
            }
            any = true;
        }
        if (any) {
            notify |= ring.pushRequestsAndCheckNotify();
        }
        return notify;
    }

    /** Moves the segments into the tag's indirect pages (granted once, read-only) and makes it INDIRECT. */
    private void toIndirect(BlkifRequest r, int tag) {
        int n = r.nrSegments;
        int pages = (n + BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME - 1) / BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME;
        if (indirectFrames[tag] == null) {
            int max = (emu.options().maxIndirectSegments() + BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME - 1)
                    / BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME;
            indirectFrames[tag] = new int[max];
            indirectRefs[tag] = new int[max];
            for (int i = 0; i < max; i++) {
                indirectFrames[tag][i] = guest.allocateFrame();
                indirectRefs[tag][i] = guest.grant(indirectFrames[tag][i], emu.backendDomid(), true);
            }
        }
        for (int p = 0; p < pages; p++) {
            int from = p * BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME;
            int count = Math.min(BlkifLayout.SEGMENTS_PER_INDIRECT_FRAME, n - from);
            BlkifCodec.encodeSegments(guest.frame(indirectFrames[tag][p]), 0, r, from, count);
            r.indirectGrefs[p] = indirectRefs[tag][p];
        }
        r.indirectOp = r.operation;
        r.operation = Blkif.OP_INDIRECT;
    }

    private void onEvent() {
        List<CompletableFuture<BlkifResponse>> done = new ArrayList<>();
        List<BlkifResponse> responses = new ArrayList<>();
        List<CompletableFuture<BlkifResponse>> failed = List.of();
        boolean notify;
        synchronized (this) {
            if (disabled != null) {
                return; // blkfront ignores the event channel of a disabled disk
            }
            responses:
            do {
                int rp = ring.rspProd();
                while (ring.rspCons() != rp) {
                    ring.takeResponse(responseScratch, responseSize);
                    long id = codec.responseId(responseScratch);
                    BlkifResponse rsp = new BlkifResponse(id, codec.responseOperation(responseScratch),
                            codec.responseStatus(responseScratch));
                    CompletableFuture<BlkifResponse> f = raw.isEmpty() ? null : raw.remove(id);
                    if (f == null) {
                        String wrong = blkfrontRejects(id, rsp.operation());
                        if (wrong != null) {
                            failed = disable(wrong);
                            break responses;
                        }
                        Pending p = byTag[(int) id];
                        byTag[(int) id] = null;
                        freeTags[freeTagCount++] = (int) id;
                        if (p.transientRefs != null) {
                            guest.releaseAll(p.transientRefs);
                        }
                        f = p.future;
                    }
                    if (f != null) {
                        outstanding--;
                        done.add(f);
                        responses.add(rsp);
                    }
                }
            } while (ring.finalCheckForResponses());
            notify = issueBacklog();
        }
        completer = Thread.currentThread();
        try {
            for (int i = 0; i < done.size(); i++) {
                done.get(i).complete(responses.get(i));
            }
        } finally {
            completer = null;
        }
        if (!failed.isEmpty()) {
            IllegalStateException e = new IllegalStateException(disabledReason());
            failed.forEach(f -> f.completeExceptionally(e));
        }
        synchronized (this) {
            notify |= issueBacklog();
        }
        if (notify) {
            port.notifyBackend();
        }
    }

    /**
     * What Linux blkfront's blkif_interrupt checks before it completes a request: the id is one it issued and
     * still waits for, and the operation is the one it sent (for INDIRECT: the indirect_op). Null when fine.
     */
    private String blkfrontRejects(long id, int operation) {
        if (id < 0 || id >= byTag.length) {
            return "response has incorrect id (" + id + ")";
        }
        Pending p = byTag[(int) id];
        if (p == null) {
            return "response references no pending request (id " + id + ")";
        }
        int op = p.req.dataOperation();
        if (operation != op) {
            return "response has wrong operation (" + operation + " instead of " + op + ")";
        }
        return null;
    }

    /** Stops the queue for good; returns what it waited for, to be failed outside the lock. */
    private List<CompletableFuture<BlkifResponse>> disable(String reason) {
        disabled = "disk disabled for further use: " + reason;
        List<CompletableFuture<BlkifResponse>> fail = new ArrayList<>();
        for (int t = 0; t < byTag.length; t++) {
            if (byTag[t] != null) {
                fail.add(byTag[t].future);
                byTag[t] = null;
            }
        }
        fail.addAll(raw.values());
        raw.clear();
        backlog.forEach(p -> fail.add(p.future));
        backlog.clear();
        return fail;
    }

    /** Why the queue is disabled (as blkfront disables a disk), or null. */
    synchronized String disabledReason() {
        return disabled;
    }

    /** The thread completing futures in {@link #onEvent}; its submissions are batched. */
    private volatile Thread completer;

    void close() {
        List<CompletableFuture<BlkifResponse>> fail = new ArrayList<>();
        synchronized (this) {
            closed = true;
            for (Pending p : byTag) {
                if (p != null) {
                    fail.add(p.future);
                }
            }
            fail.addAll(raw.values());
            backlog.forEach(p -> fail.add(p.future));
        }
        fail.forEach(f -> f.completeExceptionally(new IllegalStateException("frontend closed")));
        port.close();
    }
}
