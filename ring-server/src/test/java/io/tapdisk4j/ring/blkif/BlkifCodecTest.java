package io.tapdisk4j.ring.blkif;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static io.tapdisk4j.ring.blkif.BlkifLayout.*;
import static org.junit.jupiter.api.Assertions.*;

class BlkifCodecTest {

    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void sizesMatchTheHeaders() {
        assertEquals(112, Abi.X86_64.requestSize());
        assertEquals(16, Abi.X86_64.responseSize());
        assertEquals(112, Abi.X86_64.entrySize());
        assertEquals(108, Abi.X86_32.requestSize());
        assertEquals(12, Abi.X86_32.responseSize());
        assertEquals(108, Abi.X86_32.entrySize());
        assertEquals(X86_64_REQUEST_SEG + MAX_SEGMENTS_PER_REQUEST * SEGMENT_SIZE, X86_64_REQUEST_SIZE);
        assertEquals(X86_32_REQUEST_SEG + MAX_SEGMENTS_PER_REQUEST * SEGMENT_SIZE, X86_32_REQUEST_SIZE);
        assertEquals(X86_64_INDIRECT_INDIRECT_GREFS + 4 * MAX_INDIRECT_PAGES_PER_REQUEST, 60);
        assertEquals(X86_32_INDIRECT_INDIRECT_GREFS + 4 * MAX_INDIRECT_PAGES_PER_REQUEST + 8, X86_32_INDIRECT_SIZE);
        assertEquals(Abi.X86_32, Abi.fromProtocol("x86_32-abi"));
        assertEquals(Abi.X86_64, Abi.fromProtocol(null));
        assertThrows(IllegalArgumentException.class, () -> Abi.fromProtocol("arm-abi"));
    }

    @Test
    void decodesX8664ReadAtTheHeaderOffsets() {
        MemorySegment m = MemorySegment.ofArray(new byte[X86_64_REQUEST_SIZE]);
        m.set(ValueLayout.JAVA_BYTE, X86_64_REQUEST_OPERATION, (byte) Blkif.OP_WRITE);
        m.set(ValueLayout.JAVA_BYTE, X86_64_REQUEST_NR_SEGMENTS, (byte) 2);
        m.set(U16, X86_64_REQUEST_HANDLE, (short) 51712);
        m.set(U64, X86_64_REQUEST_ID, 0xdeadbeefcafeL);
        m.set(U64, X86_64_REQUEST_SECTOR_NUMBER, 1234567L);
        m.set(U32, X86_64_REQUEST_SEG + SEGMENT_GREF, 77);
        m.set(ValueLayout.JAVA_BYTE, X86_64_REQUEST_SEG + SEGMENT_FIRST_SECT, (byte) 1);
        m.set(ValueLayout.JAVA_BYTE, X86_64_REQUEST_SEG + SEGMENT_LAST_SECT, (byte) 7);
        m.set(U32, X86_64_REQUEST_SEG + SEGMENT_SIZE + SEGMENT_GREF, 78);
        BlkifRequest r = new BlkifRequest(11);
        Abi.X86_64.codec().decode(m, r);
        assertEquals(Blkif.OP_WRITE, r.operation);
        assertEquals(2, r.nrSegments);
        assertEquals(51712, r.handle);
        assertEquals(0xdeadbeefcafeL, r.id);
        assertEquals(1234567L, r.sectorNumber);
        assertEquals(77, r.gref[0]);
        assertEquals(1, r.firstSect(0));
        assertEquals(7, r.lastSect(0));
        assertEquals(3584, r.segmentBytes(0));
        assertEquals(78, r.gref[1]);
    }

    @Test
    void decodesX8632IdAtOffsetFour() {
        MemorySegment m = MemorySegment.ofArray(new byte[X86_32_REQUEST_SIZE]);
        m.set(ValueLayout.JAVA_BYTE, 0, (byte) Blkif.OP_READ);
        m.set(ValueLayout.JAVA_BYTE, 1, (byte) 1);
        m.set(U64, X86_32_REQUEST_ID, 42L);
        m.set(U64, X86_32_REQUEST_SECTOR_NUMBER, 9L);
        m.set(U32, X86_32_REQUEST_SEG, 5);
        BlkifRequest r = new BlkifRequest(11);
        Abi.X86_32.codec().decode(m, r);
        assertEquals(42L, r.id);
        assertEquals(9L, r.sectorNumber);
        assertEquals(5, r.gref[0]);
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void everyRequestFormRoundTrips(Abi abi) {
        BlkifCodec c = abi.codec();
        MemorySegment m = MemorySegment.ofArray(new byte[abi.requestSize()]);
        BlkifRequest rw = new BlkifRequest(11);
        rw.operation = Blkif.OP_READ;
        rw.nrSegments = 11;
        rw.id = -1L;
        rw.sectorNumber = Long.MAX_VALUE;
        rw.handle = 0xffff;
        for (int i = 0; i < 11; i++) {
            rw.segment(i, 1000 + i, i % 8, 7);
        }
        c.encode(rw, m);
        BlkifRequest back = new BlkifRequest(11);
        c.decode(m, back);
        assertEquals(rw.id, back.id);
        assertEquals(rw.sectorNumber, back.sectorNumber);
        assertEquals(0xffff, back.handle);
        for (int i = 0; i < 11; i++) {
            assertEquals(1000 + i, back.gref[i]);
            assertEquals(i % 8, back.firstSect(i));
        }

        BlkifRequest d = new BlkifRequest(0);
        d.operation = Blkif.OP_DISCARD;
        d.discardFlag = Blkif.DISCARD_SECURE;
        d.id = 7;
        d.sectorNumber = 8;
        d.nrSectors = 1L << 40;
        c.encode(d, m);
        c.decode(m, back);
        assertEquals(Blkif.OP_DISCARD, back.operation);
        assertEquals(Blkif.DISCARD_SECURE, back.discardFlag);
        assertEquals(1L << 40, back.nrSectors);
        assertEquals(8, back.sectorNumber);
        assertEquals(7, back.id);

        BlkifRequest in = new BlkifRequest(0);
        in.operation = Blkif.OP_INDIRECT;
        in.indirectOp = Blkif.OP_WRITE;
        in.nrSegments = 4096;
        in.id = 99;
        in.sectorNumber = 3;
        in.handle = 5;
        for (int i = 0; i < 8; i++) {
            in.indirectGrefs[i] = 500 + i;
        }
        c.encode(in, m);
        c.decode(m, back);
        assertEquals(Blkif.OP_INDIRECT, back.operation);
        assertEquals(Blkif.OP_WRITE, back.indirectOp);
        assertEquals(Blkif.OP_WRITE, back.dataOperation());
        assertEquals(4096, back.nrSegments);
        assertEquals(99, back.id);
        assertEquals(5, back.handle);
        assertEquals(507, back.indirectGrefs[7]);

        MemorySegment rsp = MemorySegment.ofArray(new byte[abi.responseSize()]);
        c.encodeResponse(rsp, 0x1122334455667788L, Blkif.OP_INDIRECT, Blkif.RSP_EOPNOTSUPP);
        assertEquals(0x1122334455667788L, c.responseId(rsp));
        assertEquals(Blkif.OP_INDIRECT, c.responseOperation(rsp));
        assertEquals(Blkif.RSP_EOPNOTSUPP, c.responseStatus(rsp));
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void truncatedInputIsRefused(Abi abi) {
        BlkifRequest r = new BlkifRequest(11);
        assertThrows(IllegalArgumentException.class,
                () -> abi.codec().decode(MemorySegment.ofArray(new byte[abi.requestSize() - 1]), r));
        assertThrows(IllegalArgumentException.class, () -> abi.codec().decode(MemorySegment.ofArray(new byte[0]), r));
        assertThrows(IllegalArgumentException.class,
                () -> abi.codec().responseStatus(MemorySegment.ofArray(new byte[abi.responseSize() - 1])));
        assertThrows(IllegalArgumentException.class,
                () -> BlkifCodec.decodeSegments(MemorySegment.ofArray(new byte[15]), 0, 2, r, 0));
        assertThrows(IllegalArgumentException.class,
                () -> BlkifCodec.decodeSegments(MemorySegment.ofArray(new byte[4096]), 0, 12, r, 0));
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void hostileSegmentCountNeverReadsBeyondTheRequest(Abi abi) {
        MemorySegment m = MemorySegment.ofArray(new byte[abi.requestSize()]);
        m.fill((byte) 0xff);
        m.set(ValueLayout.JAVA_BYTE, 0, (byte) Blkif.OP_WRITE);
        BlkifRequest r = new BlkifRequest(11);
        abi.codec().decode(m, r);
        assertEquals(255, r.nrSegments, "the claim is kept for validation to refuse");
        assertEquals(11, r.segmentsDecoded, "only the segments that exist are read");
        assertEquals(-1L, r.id);
        assertEquals(255, r.lastSect(10));
    }

    @Test
    void decodeWorksOnAPrivateCopySoLaterRewritesDoNotChangeIt() {
        MemorySegment shared = MemorySegment.ofArray(new byte[112]);
        shared.set(ValueLayout.JAVA_BYTE, 0, (byte) Blkif.OP_READ);
        shared.set(ValueLayout.JAVA_BYTE, 1, (byte) 1);
        MemorySegment copy = MemorySegment.ofArray(new byte[112]);
        MemorySegment.copy(shared, 0, copy, 0, 112);
        BlkifRequest r = new BlkifRequest(11);
        Abi.X86_64.codec().decode(copy, r);
        shared.set(ValueLayout.JAVA_BYTE, 1, (byte) 200);
        assertEquals(1, r.nrSegments);
    }

    @Test
    void opNames() {
        assertEquals("INDIRECT", Blkif.opName(6));
        assertEquals("op 99", Blkif.opName(99));
    }
}
