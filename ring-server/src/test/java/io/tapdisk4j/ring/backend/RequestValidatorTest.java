package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.blkif.BlkifRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.*;

/** {@link RequestValidator#validate}, one call per request, against what Linux blkback refuses. */
@Timeout(10)
class RequestValidatorTest {

    private static final long DISK = 1 << 20; // 2048 sectors
    private final RequestValidator rw = new RequestValidator(DISK, false, 32);
    private final RequestValidator ro = new RequestValidator(DISK, true, 32);

    private static BlkifRequest rw(int op, long sector, int nseg) {
        BlkifRequest r = new BlkifRequest(64);
        r.operation = op;
        r.sectorNumber = sector;
        r.nrSegments = nseg;
        for (int i = 0; i < Math.min(nseg, 64); i++) {
            r.segment(i, 10 + i, 0, 7);
        }
        return r;
    }

    private static BlkifRequest indirect(int op, long sector, int nseg) {
        BlkifRequest r = rw(Blkif.OP_INDIRECT, sector, nseg);
        r.indirectOp = op;
        return r;
    }

    private static BlkifRequest discard(long sector, long sectors) {
        BlkifRequest r = new BlkifRequest(0);
        r.operation = Blkif.OP_DISCARD;
        r.sectorNumber = sector;
        r.nrSectors = sectors;
        return r;
    }

    @Test
    void wellFormedRequestsPass() {
        assertNull(rw.validate(rw(Blkif.OP_READ, 0, 1)));
        assertNull(rw.validate(rw(Blkif.OP_WRITE, 2048 - 88, 11)), "11 pages ending at the last sector");
        assertNull(rw.validate(rw(Blkif.OP_WRITE_BARRIER, 5, 0)), "an empty barrier is a flush");
        assertNull(rw.validate(indirect(Blkif.OP_WRITE, 0, 32)));
        assertNull(rw.validate(discard(0, 2048)));
        BlkifRequest flush = new BlkifRequest(0);
        flush.operation = Blkif.OP_FLUSH_DISKCACHE;
        assertNull(ro.validate(flush), "a flush changes nothing, also on a read-only device");
        assertNull(ro.validate(rw(Blkif.OP_READ, 0, 3)));
        assertNull(ro.validate(indirect(Blkif.OP_READ, 0, 20)));
    }

    @Test
    void segmentCountsOutsideTheProtocolAreRefused() {
        assertEquals("no segments", rw.validate(rw(Blkif.OP_READ, 0, 0)));
        assertEquals("nr_segments 12 > 11", rw.validate(rw(Blkif.OP_WRITE, 0, 12)));
        assertEquals("indirect nr_segments 0 not in 1..32", rw.validate(indirect(Blkif.OP_READ, 0, 0)));
        assertEquals("indirect nr_segments 33 not in 1..32", rw.validate(indirect(Blkif.OP_READ, 0, 33)));
        assertNotNull(new RequestValidator(DISK, false, 0).validate(indirect(Blkif.OP_READ, 0, 1)));
        assertEquals("indirect operation FLUSH_DISKCACHE not READ or WRITE",
                rw.validate(indirect(Blkif.OP_FLUSH_DISKCACHE, 0, 1)));
    }

    @Test
    void sectorRangesMustStayInsideAPage() {
        BlkifRequest beyond = rw(Blkif.OP_READ, 0, 2).segment(1, 3, 0, 8);
        assertEquals("segment 1 sectors 0..8 outside a page", rw.validate(beyond));
        BlkifRequest reversed = rw(Blkif.OP_WRITE, 0, 1).segment(0, 3, 5, 4);
        assertEquals("segment 0 sectors 5..4 outside a page", rw.validate(reversed));
        BlkifRequest inIndirect = indirect(Blkif.OP_READ, 0, 20).segment(13, 3, 0, 9);
        assertEquals("segment 13 sectors 0..9 outside a page", rw.validate(inIndirect));
        assertEquals(0xff, rw(Blkif.OP_READ, 0, 1).segment(0, 3, 255, 255).lastSect(0), "u8, not a signed byte");
        assertNotNull(rw.validate(rw(Blkif.OP_READ, 0, 1).segment(0, 3, 255, 255)));
    }

    @Test
    void rangesBeyondTheDiskOrU64AreRefused() {
        assertEquals("sectors 2047+8 beyond the disk (2048 sectors)", rw.validate(rw(Blkif.OP_READ, 2047, 1)));
        assertEquals("sector 18446744073709551615 beyond any disk", rw.validate(rw(Blkif.OP_READ, -1L, 1)));
        assertNotNull(rw.validate(rw(Blkif.OP_READ, Long.MAX_VALUE >> 9, 1)));
        assertNotNull(rw.validate(indirect(Blkif.OP_WRITE, 2048 - 255, 32)));
        assertEquals("discard of 18446744073709551615 sectors", rw.validate(discard(0, -1L)));
        assertNotNull(rw.validate(discard(2040, 16)));
        assertNotNull(rw.validate(discard(Long.MAX_VALUE >> 9, 1)));
    }

    @Test
    void aFlushWithSegmentsIsCheckedAsTheWriteItIs() {
        assertNull(rw.validate(rw(Blkif.OP_FLUSH_DISKCACHE, 0, 2)));
        assertEquals("nr_segments 12 > 11", rw.validate(rw(Blkif.OP_FLUSH_DISKCACHE, 0, 12)));
        assertNotNull(rw.validate(rw(Blkif.OP_FLUSH_DISKCACHE, 2047, 1)));
        assertEquals("FLUSH_DISKCACHE on a read-only device", ro.validate(rw(Blkif.OP_FLUSH_DISKCACHE, 0, 1)));
        assertNull(ro.validate(rw(Blkif.OP_FLUSH_DISKCACHE, 2047, 0)), "an empty flush has no range");
    }

    @Test
    void aReadOnlyDeviceRefusesEveryChange() {
        assertEquals("WRITE on a read-only device", ro.validate(rw(Blkif.OP_WRITE, 0, 1)));
        assertEquals("WRITE_BARRIER on a read-only device", ro.validate(rw(Blkif.OP_WRITE_BARRIER, 0, 0)));
        assertEquals("WRITE on a read-only device", ro.validate(indirect(Blkif.OP_WRITE, 0, 12)));
        assertEquals("DISCARD on a read-only device", ro.validate(discard(0, 8)));
    }
}
