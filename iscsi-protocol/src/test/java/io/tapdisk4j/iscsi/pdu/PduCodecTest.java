package io.tapdisk4j.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PduCodecTest {

    /** Encodes PDUs as one byte stream (all segments concatenated), with the given digests. */
    static ByteBuf encode(boolean hd, boolean dd, Pdu... pdus) {
        DigestSettings s = new DigestSettings();
        s.headerDigest(hd);
        s.dataDigest(dd);
        EmbeddedChannel ch = new EmbeddedChannel(new PduEncoder(s));
        for (Pdu p : pdus) {
            assertTrue(ch.writeOutbound(p));
        }
        ByteBuf all = Unpooled.buffer();
        for (ByteBuf b; (b = ch.readOutbound()) != null; ) {
            all.writeBytes(b);
            b.release();
        }
        ch.finishAndReleaseAll();
        return all;
    }

    static Pdu dataIn(int itt, byte[] data) {
        Pdu p = Pdu.of(Opcode.DATA_IN, false, Unpooled.wrappedBuffer(data));
        p.flags(0x81).intAt(16, itt).intAt(24, 7).intAt(28, 8).intAt(32, 40).intAt(40, 4096);
        return p;
    }

    static EmbeddedChannel initiatorDecoder(boolean hd, boolean dd, int max) {
        DigestSettings s = new DigestSettings();
        s.headerDigest(hd);
        s.dataDigest(dd);
        s.maxRecvDataSegmentLength(max);
        return new EmbeddedChannel(PduDecoder.forInitiator(s));
    }

    @Test
    void crc32cMatchesTheRfcTestVector() {
        // RFC 3720 B.4: 32 bytes of zeroes give CRC 0x8a9136aa, sent as aa 36 91 8a.
        assertEquals(0x8a9136aa, Digests.crc32c(new byte[32], 0, 32));
        byte[] ones = new byte[32];
        java.util.Arrays.fill(ones, (byte) 0xff);
        assertEquals(0x62a8ab43, Digests.crc32c(ones, 0, 32));
        ByteBuf b = Unpooled.buffer();
        b.writeIntLE(Digests.crc32c(new byte[32], 0, 32));
        assertEquals(0xaa, b.getUnsignedByte(0));
        assertEquals(0x8a, b.getUnsignedByte(3));
    }

    @Test
    void roundTripWithPaddingAndDigests() {
        for (boolean hd : new boolean[] {false, true}) {
            for (boolean dd : new boolean[] {false, true}) {
                byte[] data = {1, 2, 3, 4, 5};
                ByteBuf wire = encode(hd, dd, dataIn(0x1234, data));
                assertEquals(48 + (hd ? 4 : 0) + 8 + (dd ? 4 : 0), wire.readableBytes());
                EmbeddedChannel ch = initiatorDecoder(hd, dd, 8192);
                ch.writeInbound(wire);
                Pdu p = ch.readInbound();
                try {
                    assertEquals(Opcode.DATA_IN, p.opcode());
                    assertEquals(0x1234, p.initiatorTaskTag());
                    assertEquals(4096, p.bufferOffset());
                    assertEquals(40, p.maxCmdSN());
                    assertEquals(5, p.dataLength());
                    assertEquals(3, p.data().getByte(p.data().readerIndex() + 2));
                } finally {
                    p.release();
                }
                assertNull(ch.readInbound());
                assertTrue(!ch.finishAndReleaseAll());
            }
        }
    }

    @Test
    void bytesArrivingOneAtATimeMakeExactlyOnePdu() {
        ByteBuf wire = encode(true, true, dataIn(9, new byte[1000]), dataIn(10, new byte[0]));
        EmbeddedChannel ch = initiatorDecoder(true, true, 8192);
        List<Pdu> got = new ArrayList<>();
        while (wire.isReadable()) {
            ch.writeInbound(wire.readRetainedSlice(1));
            for (Pdu p; (p = ch.readInbound()) != null; ) {
                got.add(p);
            }
        }
        wire.release();
        assertEquals(2, got.size());
        assertEquals(1000, got.get(0).dataLength());
        assertEquals(10, got.get(1).initiatorTaskTag());
        got.forEach(Pdu::release);
        ch.finishAndReleaseAll();
    }

    @Test
    void truncatedPduYieldsNothingAndLeaksNothing() {
        ByteBuf wire = encode(false, false, dataIn(1, new byte[600]));
        EmbeddedChannel ch = initiatorDecoder(false, false, 8192);
        ch.writeInbound(wire.retainedSlice(0, wire.readableBytes() - 1));
        assertNull(ch.readInbound());
        wire.release();
        ch.finishAndReleaseAll();
    }

    @Test
    void oversizedDataSegmentIsRefusedBeforeBuffering() {
        ByteBuf header = Unpooled.buffer(48);
        header.writeByte(Opcode.DATA_IN).writeByte(0x81).writeShort(0).writeByte(0).writeMedium(0xffffff);
        header.writeZero(40);
        EmbeddedChannel ch = initiatorDecoder(false, false, 8192);
        DecoderException e = assertThrows(DecoderException.class, () -> ch.writeInbound(header));
        assertTrue(e.getMessage().contains("exceeds MaxRecvDataSegmentLength"), e.getMessage());
        ch.finishAndReleaseAll();
    }

    @Test
    void badHeaderDigestIsRefused() {
        ByteBuf wire = encode(true, false, dataIn(1, new byte[8]));
        wire.setByte(20, wire.getByte(20) ^ 0x01);
        EmbeddedChannel ch = initiatorDecoder(true, false, 8192);
        DecoderException e = assertThrows(DecoderException.class, () -> ch.writeInbound(wire));
        assertTrue(e.getMessage().contains("header digest mismatch"), e.getMessage());
        ch.finishAndReleaseAll();
    }

    @Test
    void badDataDigestIsRefused() {
        ByteBuf wire = encode(true, true, dataIn(1, new byte[8]));
        wire.setByte(48 + 4 + 3, 0x55);
        EmbeddedChannel ch = initiatorDecoder(true, true, 8192);
        DecoderException e = assertThrows(DecoderException.class, () -> ch.writeInbound(wire));
        assertTrue(e.getMessage().contains("data digest mismatch"), e.getMessage());
        ch.finishAndReleaseAll();
    }

    @Test
    void initiatorOpcodesFromTheTargetAreRefused() {
        ByteBuf wire = encode(false, false, Pdu.of(Opcode.SCSI_COMMAND, false, null));
        EmbeddedChannel ch = initiatorDecoder(false, false, 8192);
        assertThrows(DecoderException.class, () -> ch.writeInbound(wire));
        ch.finishAndReleaseAll();
        ByteBuf unknown = Unpooled.buffer().writeByte(0x3e).writeZero(47);
        EmbeddedChannel ch2 = initiatorDecoder(false, false, 8192);
        assertThrows(DecoderException.class, () -> ch2.writeInbound(unknown));
        ch2.finishAndReleaseAll();
    }

    @Test
    void additionalHeaderSegmentsAreSkipped() {
        ByteBuf wire = Unpooled.buffer();
        wire.writeByte(Opcode.SCSI_RESPONSE).writeByte(0x80).writeByte(0).writeByte(2);
        wire.writeByte(2).writeMedium(4); // 8 bytes of AHS, 4 bytes of data
        wire.writeZero(8).writeInt(77).writeZero(28);
        wire.writeLong(0xdeadbeefL); // AHS
        wire.writeInt(0x01020304);   // data
        EmbeddedChannel ch = initiatorDecoder(false, false, 8192);
        ch.writeInbound(wire);
        Pdu p = ch.readInbound();
        assertEquals(77, p.initiatorTaskTag());
        assertEquals(2, p.status());
        assertEquals(0x01020304, p.data().getInt(p.data().readerIndex()));
        p.release();
        ch.finishAndReleaseAll();
    }

    @Test
    void encoderSendsTheDataBufferItselfAndSetsTheLength() {
        DigestSettings s = new DigestSettings();
        EmbeddedChannel ch = new EmbeddedChannel(new PduEncoder(s));
        ByteBuf data = Unpooled.directBuffer(8).writeLong(42);
        ch.writeOutbound(InitiatorPdus.dataOut(1L << 48, 5, 6, 7, 0, 0, true, data));
        ByteBuf header = ch.readOutbound();
        assertEquals(48, header.readableBytes());
        assertEquals(8, header.getUnsignedMedium(5));
        assertEquals(Opcode.DATA_OUT, header.getByte(0));
        header.release();
        ByteBuf body = ch.readOutbound();
        assertEquals(42, body.getLong(body.readerIndex()));
        body.release();
        assertNull(ch.readOutbound(), "8 bytes need no padding");
        ch.finishAndReleaseAll();
        assertEquals(0, data.refCnt(), "the encoder released the PDU's data once sent");
    }

    @Test
    void decoderLimitAppliesToTargetDirectionToo() {
        DigestSettings s = new DigestSettings();
        s.maxRecvDataSegmentLength(512);
        EmbeddedChannel ch = new EmbeddedChannel(PduDecoder.forTarget(s));
        ByteBuf wire = encode(false, false, InitiatorPdus.dataOut(0, 1, 2, 3, 0, 0, true, Unpooled.wrappedBuffer(new byte[1024])));
        assertThrows(DecoderException.class, () -> ch.writeInbound(wire));
        ch.finishAndReleaseAll();
    }
}
