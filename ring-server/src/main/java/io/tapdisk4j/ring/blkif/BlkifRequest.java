package io.tapdisk4j.ring.blkif;

/**
 * A blkif request copied out of the shared ring into private memory: the only copy the backend validates
 * and acts on, so a guest rewriting its ring slot meanwhile changes nothing (the XSA-155 double-fetch class).
 * Mutable and reusable so that the ring keeps one per in-flight slot instead of allocating per request.
 *
 * <p>For {@link Blkif#OP_INDIRECT} the segments arrive later, from the indirect pages
 * ({@link BlkifCodec#decodeSegments}); {@link #nrSegments} is then the indirect request's u16 count.
 */
public final class BlkifRequest {

    public int operation;
    /** u8 for direct requests, u16 for indirect ones; not yet validated. */
    public int nrSegments;
    public int handle;
    public long id;
    public long sectorNumber;

    /** Segments decoded so far (at most {@link #capacity()}). */
    public int segmentsDecoded;
    public final int[] gref;
    public final byte[] firstSect;
    public final byte[] lastSect;

    public int indirectOp;
    public final int[] indirectGrefs = new int[BlkifLayout.MAX_INDIRECT_PAGES_PER_REQUEST];

    public int discardFlag;
    public long nrSectors;

    public BlkifRequest(int segmentCapacity) {
        int cap = Math.max(segmentCapacity, BlkifLayout.MAX_SEGMENTS_PER_REQUEST);
        gref = new int[cap];
        firstSect = new byte[cap];
        lastSect = new byte[cap];
    }

    public int capacity() {
        return gref.length;
    }

    /** The operation the data moves for: {@link #indirectOp} for indirect requests. */
    public int dataOperation() {
        return operation == Blkif.OP_INDIRECT ? indirectOp : operation;
    }

    public int firstSect(int i) {
        return firstSect[i] & 0xff;
    }

    public int lastSect(int i) {
        return lastSect[i] & 0xff;
    }

    /** Bytes segment {@code i} moves; only meaningful once validated (first <= last <= 7). */
    public int segmentBytes(int i) {
        return (lastSect(i) - firstSect(i) + 1) * BlkifLayout.SECTOR_SIZE;
    }

    public void clear() {
        operation = 0;
        nrSegments = 0;
        handle = 0;
        id = 0;
        sectorNumber = 0;
        segmentsDecoded = 0;
        indirectOp = 0;
        discardFlag = 0;
        nrSectors = 0;
    }

    /** Sets segment {@code i} (used by the frontend emulator and tests). */
    public BlkifRequest segment(int i, int ref, int first, int last) {
        gref[i] = ref;
        firstSect[i] = (byte) first;
        lastSect[i] = (byte) last;
        segmentsDecoded = Math.max(segmentsDecoded, i + 1);
        return this;
    }

    @Override
    public String toString() {
        return Blkif.opName(operation) + (operation == Blkif.OP_INDIRECT ? "(" + Blkif.opName(indirectOp) + ")" : "")
                + " id=" + id + " sector=" + sectorNumber + " nseg=" + nrSegments;
    }
}
