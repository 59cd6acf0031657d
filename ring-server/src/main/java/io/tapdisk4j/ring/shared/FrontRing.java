package io.tapdisk4j.ring.shared;

import java.lang.foreign.MemorySegment;

import static io.tapdisk4j.ring.blkif.BlkifLayout.*;

/**
 * The frontend's view of a shared ring ({@code FRONT_RING}): private {@code req_prod_pvt} and
 * {@code rsp_cons}. Used by the blkfront emulator and tests; callers serialize access.
 */
public final class FrontRing {

    private final RingPages mem;
    private final int size;
    private final int entrySize;
    private int reqProdPvt;
    private int rspCons;

    /** Attaches to a ring; {@code init} performs SHARED_RING_INIT + FRONT_RING_INIT. */
    public FrontRing(RingPages mem, int entrySize, boolean init) {
        this.mem = mem;
        this.entrySize = entrySize;
        this.size = RingGeometry.entries(Integer.numberOfTrailingZeros(mem.pageCount()), entrySize);
        if (init) {
            MemorySegment zero = MemorySegment.ofArray(new byte[SRING_RING]);
            mem.write(zero, 0, 0, SRING_RING);
            mem.setPlain(SRING_REQ_EVENT, 1);
            mem.setRelease(SRING_RSP_EVENT, 1);
        }
        this.reqProdPvt = mem.getAcquire(SRING_REQ_PROD);
        this.rspCons = mem.getAcquire(SRING_RSP_PROD);
    }

    /** Starts the private counters at {@code start} (tests of u32 wrap-around); only on a fresh ring. */
    public void startAt(int start) {
        reqProdPvt = start;
        rspCons = start;
        mem.setPlain(SRING_REQ_PROD, start);
        mem.setPlain(SRING_RSP_PROD, start);
        mem.setPlain(SRING_REQ_EVENT, start + 1);
        mem.setRelease(SRING_RSP_EVENT, start + 1);
    }

    public int size() {
        return size;
    }

    public int reqProdPvt() {
        return reqProdPvt;
    }

    public int rspCons() {
        return rspCons;
    }

    public RingPages pages() {
        return mem;
    }

    /** RING_FREE_REQUESTS. */
    public int freeRequests() {
        return (int) (size - RingGeometry.distance(reqProdPvt, rspCons));
    }

    /** Writes a request at {@code req_prod_pvt} (not yet published). */
    public void putRequest(MemorySegment src, int requestSize) {
        mem.write(src, 0, RingGeometry.entryOffset(reqProdPvt, size, entrySize), requestSize);
        reqProdPvt++;
    }

    /** Ring byte offset of the entry at index {@code idx} (for hostile rewrites). */
    public long entryOffset(int idx) {
        return RingGeometry.entryOffset(idx, size, entrySize);
    }

    /** Sets req_prod to any value, published with release (hostile overrun tests). */
    public void forceReqProd(int value) {
        reqProdPvt = value;
        mem.setRelease(SRING_REQ_PROD, value);
    }

    /** RING_PUSH_REQUESTS_AND_CHECK_NOTIFY. */
    public boolean pushRequestsAndCheckNotify() {
        int old = mem.getPlain(SRING_REQ_PROD);
        int now = reqProdPvt;
        mem.setRelease(SRING_REQ_PROD, now);
        RingPages.fullFence();
        int event = mem.getAcquire(SRING_REQ_EVENT);
        return RingGeometry.distance(now, event) < RingGeometry.distance(now, old);
    }

    public int rspProd() {
        return mem.getAcquire(SRING_RSP_PROD);
    }

    /** Copies response {@code rsp_cons} out and consumes it. */
    public void takeResponse(MemorySegment dst, int responseSize) {
        mem.read(RingGeometry.entryOffset(rspCons, size, entrySize), dst, 0, responseSize);
        rspCons++;
    }

    /** RING_FINAL_CHECK_FOR_RESPONSES. */
    public boolean finalCheckForResponses() {
        if (rspProd() != rspCons) {
            return true;
        }
        mem.setRelease(SRING_RSP_EVENT, rspCons + 1);
        RingPages.fullFence();
        return rspProd() != rspCons;
    }
}
