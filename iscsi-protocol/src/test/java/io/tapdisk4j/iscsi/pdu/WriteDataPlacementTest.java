package io.tapdisk4j.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * On a target, a large SCSI Command's immediate data and a large Data-Out are read into a pooled buffer of
 * their own (through read targets, as {@link PduReadAllocator} hands them to the socket), with padding and
 * digests; small segments stay ordinary; the buffer is not leaked when the stream breaks.
 */
class WriteDataPlacementTest {

    static PduDecoder decoder(boolean hd, boolean dd) {
        DigestSettings s = new DigestSettings();
        s.headerDigest(hd);
        s.dataDigest(dd);
        s.maxRecvDataSegmentLength(262144);
        PduDecoder d = PduDecoder.forTarget(s);
        d.placeWriteData(true);
        return d;
    }

    static Pdu command(int itt, byte[] data) {
        Pdu p = Pdu.of(Opcode.SCSI_COMMAND, false, Unpooled.wrappedBuffer(data));
        p.flags(0xa1).intAt(16, itt).intAt(20, data.length).intAt(24, 1);
        return p;
    }

    static Pdu dataOut(int itt, int offset, byte[] data) {
        Pdu p = Pdu.of(Opcode.DATA_OUT, false, Unpooled.wrappedBuffer(data));
        p.flags(0x80).intAt(16, itt).intAt(20, 9).intAt(40, offset);
        return p;
    }

    @ParameterizedTest(name = "{0} of {1} bytes, digests {2}")
    @CsvSource({"command, 131072, false", "command, 100003, true", "data-out, 262144, false", "data-out, 65537, true"})
    void largeWriteDataLandsInABufferOfItsOwn(String kind, int length, boolean digests) {
        byte[] data = DataInPlacementTest.random(length, length);
        Pdu first = kind.equals("command") ? command(3, data) : dataOut(3, 8192, data);
        ByteBuf wire = PduCodecTest.encode(digests, digests, first, dataOut(4, 0, new byte[] {1, 2, 3, 4}));
        PduDecoder d = decoder(digests, digests);
        EmbeddedChannel ch = new EmbeddedChannel(d);
        try {
            int header = 48 + (digests ? 4 : 0);
            ch.writeInbound(wire.readRetainedSlice(header + 1000));
            assertNull(ch.readInbound(), "data still on its way");
            assertEquals(30000, DataInPlacementTest.socketRead(d, ch, wire, 30000));
            int rest = length - 1000 - 30000;
            assertEquals(rest, DataInPlacementTest.socketRead(d, ch, wire, Integer.MAX_VALUE));
            ch.writeInbound(wire.readRetainedSlice(wire.readableBytes()));
            Pdu placed = ch.readInbound();
            Pdu next = ch.readInbound();
            try {
                assertNotNull(placed.placedInto(), "read into a buffer of its own");
                assertTrue(placed.placedInto().isDirect());
                assertEquals(length, placed.placedInto().capacity());
                assertEquals(first.opcode(), placed.opcode());
                assertEquals(3, placed.initiatorTaskTag());
                byte[] got = new byte[length];
                placed.data().getBytes(placed.data().readerIndex(), got);
                assertArrayEquals(data, got);
                assertNull(next.placedInto(), "a small segment is an ordinary one");
                assertEquals(4, next.initiatorTaskTag());
            } finally {
                placed.release();
                next.release();
            }
        } finally {
            wire.release();
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void theInitiatorsDecoderNeverPlacesWriteData() {
        byte[] data = DataInPlacementTest.random(131072, 5);
        ByteBuf wire = PduCodecTest.encode(false, false, command(3, data));
        DigestSettings s = new DigestSettings();
        s.maxRecvDataSegmentLength(262144);
        PduDecoder d = PduDecoder.forTarget(s); // placement not asked for
        EmbeddedChannel ch = new EmbeddedChannel(d);
        try {
            ch.writeInbound(wire.readRetainedSlice(48 + 1000));
            assertNull(d.nextReadTarget());
            ch.writeInbound(wire.readRetainedSlice(wire.readableBytes()));
            Pdu p = ch.readInbound();
            assertNull(p.placedInto());
            assertEquals(131072, p.dataLength());
            p.release();
        } finally {
            wire.release();
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void aBadDigestOnPlacedDataBreaksTheStreamAndFreesTheBuffer() {
        byte[] data = DataInPlacementTest.random(65536, 9);
        ByteBuf wire = PduCodecTest.encode(true, true, dataOut(3, 0, data));
        wire.setByte(wire.writerIndex() - 1, wire.getByte(wire.writerIndex() - 1) ^ 0x5a); // the data digest
        PduDecoder d = decoder(true, true);
        EmbeddedChannel ch = new EmbeddedChannel(d);
        try {
            ch.writeInbound(wire.readRetainedSlice(52 + 100));
            ByteBuf target = d.nextReadTarget();
            assertNotNull(target);
            target.release();
            assertThrows(DecoderException.class, () -> ch.writeInbound(wire.readRetainedSlice(wire.readableBytes())));
            assertNull(d.nextReadTarget(), "nothing placed after a framing error");
        } finally {
            wire.release();
            ch.finishAndReleaseAll();
        }
    }
}
