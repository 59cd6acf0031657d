package io.tapdisk4j.ring.shared;

import java.lang.foreign.MemorySegment;

import static io.tapdisk4j.ring.blkif.BlkifLayout.*;

/**
 * The backend's view of a shared ring ({@code BACK_RING} of xen/io/ring.h): private {@code req_cons} and
 * {@code rsp_prod_pvt}, free-running u32 counters compared by unsigned difference. Used by one thread.
 */
public final class BackRing {

    private final RingPages mem;
    private final int size;
    private final int entrySize;
    private int reqCons;
    private int rspProdPvt;

    public BackRing(RingPages mem, int entrySize) {
        this.mem = mem;
        this.entrySize = entrySize;
        this.size = RingGeometry.entries(Integer.numberOfTrailingZeros(mem.pageCount()), entrySize);
        // BACK_RING_ATTACH semantics: start from what the shared ring already says.
        this.rspProdPvt = mem.getAcquire(SRING_RSP_PROD);
        this.reqCons = rspProdPvt;
    }

    public int size() {
        return size;
    }

    public int reqCons() {
        return reqCons;
    }

    public int rspProdPvt() {
        return rspProdPvt;
    }

    /** The guest's {@code req_prod}, read with acquire so that the entries before it are visible. */
    public int reqProd() {
        return mem.getAcquire(SRING_REQ_PROD);
    }

    /** RING_REQUEST_PROD_OVERFLOW: the frontend claims more outstanding requests than the ring holds. */
    public boolean requestProdOverflow(int reqProd) {
        return RingGeometry.distance(reqProd, rspProdPvt) > size;
    }

    /** RING_REQUEST_CONS_OVERFLOW: as many requests taken as the ring can answer; wait for responses. */
    public boolean requestConsOverflow() {
        return RingGeometry.distance(reqCons, rspProdPvt) >= size;
    }

    /** RING_HAS_UNCONSUMED_REQUESTS, bounded by the free response slots. */
    public int unconsumedRequests(int reqProd) {
        long req = RingGeometry.distance(reqProd, reqCons);
        long rsp = size - RingGeometry.distance(reqCons, rspProdPvt);
        return (int) Math.max(0, Math.min(req, rsp));
    }

    /** Copies request {@code reqCons} out of the ring in one pass into {@code dst} and consumes it. */
    public void takeRequest(MemorySegment dst, int requestSize) {
        mem.read(RingGeometry.entryOffset(reqCons, size, entrySize), dst, 0, requestSize);
        reqCons++;
    }

    /** Writes a response at {@code rsp_prod_pvt} (not yet visible to the guest). */
    public void putResponse(MemorySegment src, int responseSize) {
        mem.write(src, 0, RingGeometry.entryOffset(rspProdPvt, size, entrySize), responseSize);
        rspProdPvt++;
    }

    /**
     * RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: publishes the responses (release, so they are visible before the
     * index), then a full barrier before reading {@code rsp_event}. True when the guest asked to be notified.
     */
    public boolean pushResponsesAndCheckNotify() {
        int old = mem.getPlain(SRING_RSP_PROD);
        int now = rspProdPvt;
        mem.setRelease(SRING_RSP_PROD, now);
        RingPages.fullFence();
        int event = mem.getAcquire(SRING_RSP_EVENT);
        return RingGeometry.distance(now, event) < RingGeometry.distance(now, old);
    }

    /**
     * RING_FINAL_CHECK_FOR_REQUESTS: when nothing is pending, asks for a notification on the next request
     * ({@code req_event = req_cons + 1}), full barrier, and checks again so a request published meanwhile
     * is not missed. True when there is work.
     */
    public boolean finalCheckForRequests() {
        if (unconsumedRequests(reqProd()) > 0) {
            return true;
        }
        mem.setRelease(SRING_REQ_EVENT, reqCons + 1);
        RingPages.fullFence();
        return unconsumedRequests(reqProd()) > 0;
    }
}
