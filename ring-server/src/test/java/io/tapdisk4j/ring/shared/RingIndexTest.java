package io.tapdisk4j.ring.shared;

import io.tapdisk4j.ring.blkif.Abi;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.*;

class RingIndexTest {

    private static MemorySegment[] pages(Arena a, int n) {
        MemorySegment[] p = new MemorySegment[n];
        // Allocated separately: a ring's pages need not be adjacent in dom0.
        for (int i = 0; i < n; i++) {
            p[i] = a.allocate(4096, 4096);
        }
        return p;
    }

    @Test
    void ringSizesPerOrder() {
        int[] expected = {32, 64, 128, 256, 512};
        for (int order = 0; order <= 4; order++) {
            assertEquals(expected[order], RingGeometry.entries(order, Abi.X86_64.entrySize()));
            assertEquals(expected[order], RingGeometry.entries(order, Abi.X86_32.entrySize()));
        }
    }

    @Test
    void unsignedDistance() {
        assertEquals(16, RingGeometry.distance(0x0000000F, 0xFFFFFFFF));
        assertEquals(0xFFFFFFFFL, RingGeometry.distance(0, 1));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 2, 4})
    void requestsAndResponsesAcrossU32WrapAround(int order) {
        try (Arena a = Arena.ofConfined()) {
            RingPages mem = new RingPages(pages(a, 1 << order));
            FrontRing front = new FrontRing(mem, 112, true);
            front.startAt(0xFFFFFFF0);
            BackRing back = new BackRing(mem, 112);
            assertEquals(0xFFFFFFF0, back.reqCons());
            MemorySegment buf = MemorySegment.ofArray(new byte[112]);
            MemorySegment out = MemorySegment.ofArray(new byte[112]);
            int size = front.size();
            long total = 3L * size + 5;
            long consumed = 0;
            long produced = 0;
            long answered = 0;
            while (answered < total) {
                while (front.freeRequests() > 0 && produced < total) {
                    buf.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, produced++);
                    front.putRequest(buf, 112);
                }
                front.pushRequestsAndCheckNotify();
                int rp = back.reqProd();
                assertFalse(back.requestProdOverflow(rp));
                while (back.reqCons() != rp && !back.requestConsOverflow()) {
                    back.takeRequest(out, 112);
                    assertEquals(consumed++, out.get(ValueLayout.JAVA_LONG_UNALIGNED, 8));
                    back.putResponse(out, 16);
                }
                back.pushResponsesAndCheckNotify();
                while (front.rspCons() != front.rspProd()) {
                    front.takeResponse(out, 16);
                    assertEquals(answered++, out.get(ValueLayout.JAVA_LONG_UNALIGNED, 8));
                }
            }
            assertTrue(Integer.compareUnsigned(front.reqProdPvt(), 0xFFFFFFF0) < 0, "indexes wrapped past 2^32");
        }
    }

    @Test
    void notifyOnlyWhenTheOtherSideAskedForIt() {
        try (Arena a = Arena.ofConfined()) {
            RingPages mem = new RingPages(pages(a, 1));
            FrontRing front = new FrontRing(mem, 112, true);
            BackRing back = new BackRing(mem, 112);
            MemorySegment buf = MemorySegment.ofArray(new byte[112]);
            front.putRequest(buf, 112);
            assertTrue(front.pushRequestsAndCheckNotify(), "req_event starts at 1");
            front.putRequest(buf, 112);
            assertFalse(front.pushRequestsAndCheckNotify(), "backend has not asked again");
            back.takeRequest(buf, 112);
            back.takeRequest(buf, 112);
            assertFalse(back.finalCheckForRequests());
            assertEquals(3, mem.getAcquire(4), "req_event = req_cons + 1");
            front.putRequest(buf, 112);
            assertTrue(front.pushRequestsAndCheckNotify());
            assertTrue(back.finalCheckForRequests(), "a request published meanwhile is seen");

            back.putResponse(buf, 16);
            assertTrue(back.pushResponsesAndCheckNotify(), "rsp_event starts at 1");
            back.putResponse(buf, 16);
            assertFalse(back.pushResponsesAndCheckNotify());
            front.takeResponse(buf, 16);
            front.takeResponse(buf, 16);
            assertFalse(front.finalCheckForResponses());
            back.putResponse(buf, 16);
            assertTrue(back.pushResponsesAndCheckNotify());
        }
    }

    @Test
    void overrunAndConsumerOverflowAcrossWrap() {
        try (Arena a = Arena.ofConfined()) {
            RingPages mem = new RingPages(pages(a, 1));
            FrontRing front = new FrontRing(mem, 112, true);
            front.startAt(-10);
            BackRing back = new BackRing(mem, 112);
            int size = back.size();
            assertFalse(back.requestProdOverflow(-10 + size));
            assertTrue(back.requestProdOverflow(-10 + size + 1));
            assertTrue(back.requestProdOverflow(-11), "req_prod behind rsp_prod is a huge unsigned distance");
            MemorySegment buf = MemorySegment.ofArray(new byte[112]);
            front.forceReqProd(-10 + size);
            for (int i = 0; i < size; i++) {
                assertFalse(back.requestConsOverflow());
                back.takeRequest(buf, 112);
            }
            assertTrue(back.requestConsOverflow(), "a full ring of unanswered requests");
            assertEquals(0, back.unconsumedRequests(back.reqProd()));
        }
    }

    @Test
    void entriesStraddlingPagesAreCopiedWhole() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment[] p = pages(a, 2);
            RingPages mem = new RingPages(p);
            // Entry 36 of a 112-byte ring starts at 64 + 36*112 = 4096 - 0: pick one that straddles: 35 -> 3984..4096+0
            long off = RingGeometry.entryOffset(36, 64, 112) - 50;
            MemorySegment src = MemorySegment.ofArray(new byte[112]);
            for (int i = 0; i < 112; i++) {
                src.set(ValueLayout.JAVA_BYTE, i, (byte) i);
            }
            mem.write(src, 0, off, 112);
            MemorySegment back = MemorySegment.ofArray(new byte[112]);
            mem.read(off, back, 0, 112);
            assertEquals(-1, src.mismatch(back));
            assertThrows(IndexOutOfBoundsException.class, () -> mem.read(8192 - 10, back, 0, 112));
        }
        assertThrows(IllegalArgumentException.class, () -> new RingPages(new MemorySegment[3]));
    }
}
