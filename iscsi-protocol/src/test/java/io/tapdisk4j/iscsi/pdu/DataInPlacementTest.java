package io.tapdisk4j.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.tapdisk4j.block.Buffers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Large Data-In written straight into the buffer a {@link DataInSink} names: through read targets (what
 * {@link PduReadAllocator} hands the socket), through ordinary buffers, with padding and digests, and when
 * the stream breaks in the middle. The socket is simulated: bytes are written into the read target and
 * the target is passed back in, as Netty's read loop does.
 */
class DataInPlacementTest {

    static final int ITT = 0x77;
    static final int OFFSET = 4096;

    /** A sink with one destination, for {@link #ITT}; counts how often it was asked. */
    static final class Sink implements DataInSink {
        final ByteBuf destination;
        int asked;

        Sink(int capacity) {
            destination = Buffers.direct(capacity);
        }

        @Override
        public ByteBuf destination(int itt, int bufferOffset, int length) {
            asked++;
            return itt == ITT ? destination : null;
        }
    }

    static Pdu dataIn(int itt, int offset, byte[] data) {
        Pdu p = Pdu.of(Opcode.DATA_IN, false, Unpooled.wrappedBuffer(data));
        p.flags(0x81).intAt(16, itt).intAt(24, 7).intAt(28, 8).intAt(32, 40).intAt(40, offset);
        return p;
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static EmbeddedChannel channel(PduDecoder d) {
        return new EmbeddedChannel(d);
    }

    static PduDecoder decoder(boolean hd, boolean dd, Sink sink) {
        DigestSettings s = new DigestSettings();
        s.headerDigest(hd);
        s.dataDigest(dd);
        PduDecoder d = PduDecoder.forInitiator(s);
        d.placeDataIn(sink);
        return d;
    }

    /** Writes up to {@code n} bytes of {@code wire} into the decoder's read target and passes it back in. */
    static int socketRead(PduDecoder d, EmbeddedChannel ch, ByteBuf wire, int n) {
        ByteBuf target = d.nextReadTarget();
        if (target == null) {
            return -1;
        }
        int k = Math.min(n, Math.min(target.writableBytes(), wire.readableBytes()));
        target.writeBytes(wire, k);
        ch.writeInbound(target);
        return k;
    }

    @ParameterizedTest(name = "length {0}, header digest {1}, data digest {2}")
    @CsvSource({"131072, false, false", "131072, true, true", "100003, false, false", "100003, true, true",
            "262144, false, true"})
    void dataReadIntoItsDestinationThroughReadTargets(int length, boolean hd, boolean dd) {
        byte[] data = random(length, length);
        ByteBuf wire = PduCodecTest.encode(hd, dd, dataIn(ITT, OFFSET, data), dataIn(5, 0, new byte[] {1, 2, 3, 4}));
        Sink sink = new Sink(OFFSET + length);
        PduDecoder d = decoder(hd, dd, sink);
        EmbeddedChannel ch = channel(d);
        try {
            int header = 48 + (hd ? 4 : 0);
            ch.writeInbound(wire.readRetainedSlice(header + 5000));
            assertNull(ch.readInbound(), "data still on its way");
            assertEquals(1, sink.asked);
            // The socket reads the rest of the data, in two pieces, into the destination itself.
            assertEquals(20000, socketRead(d, ch, wire, 20000));
            assertNull(ch.readInbound());
            int rest = length - 5000 - 20000;
            assertEquals(rest, socketRead(d, ch, wire, Integer.MAX_VALUE), "a target covers exactly the missing data");
            assertNull(d.nextReadTarget(), "nothing more to place");
            // Padding, digest and the next PDU arrive in an ordinary buffer.
            ch.writeInbound(wire.readRetainedSlice(wire.readableBytes()));
            Pdu placed = ch.readInbound();
            Pdu next = ch.readInbound();
            try {
                assertSame(sink.destination, placed.placedInto());
                assertEquals(length, placed.dataLength());
                assertEquals(OFFSET, placed.bufferOffset());
                byte[] got = new byte[length];
                sink.destination.getBytes(OFFSET, got);
                assertArrayEquals(data, got);
                byte[] viaPdu = new byte[length];
                placed.data().getBytes(placed.data().readerIndex(), viaPdu);
                assertArrayEquals(data, viaPdu);
                assertEquals(5, next.initiatorTaskTag());
                assertNull(next.placedInto(), "a small segment is an ordinary one");
            } finally {
                placed.release();
                next.release();
            }
            assertEquals(1, sink.destination.refCnt(), "the decoder keeps no reference once the PDU is out");
        } finally {
            wire.release();
            ch.finishAndReleaseAll();
            sink.destination.release();
        }
    }

    @Test
    void withoutPaddingOrDigestThePduLeavesWithTheLastRead() {
        byte[] data = random(65536, 1);
        ByteBuf wire = PduCodecTest.encode(false, false, dataIn(ITT, 0, data));
        Sink sink = new Sink(65536);
        PduDecoder d = decoder(false, false, sink);
        EmbeddedChannel ch = channel(d);
        try {
            ch.writeInbound(wire.readRetainedSlice(48));
            assertEquals(0, d.headerOnlyRead(), "no header-only read before a placement");
            socketRead(d, ch, wire, Integer.MAX_VALUE);
            Pdu p = ch.readInbound();
            assertSame(sink.destination, p.placedInto());
            p.release();
            assertEquals(48, d.headerOnlyRead(), "after a placement only the next header is read");
        } finally {
            wire.release();
            ch.finishAndReleaseAll();
            sink.destination.release();
        }
    }

    @Test
    void placedDataMayArriveInOrdinaryBuffersInAnyPieces() {
        Random r = new Random(9);
        for (int round = 0; round < 50; round++) {
            boolean hd = r.nextBoolean();
            boolean dd = r.nextBoolean();
            int length = 16384 + r.nextInt(200_000);
            byte[] data = random(length, round);
            ByteBuf wire = PduCodecTest.encode(hd, dd, dataIn(ITT, OFFSET, data), dataIn(9, 0, random(100, 3)));
            Sink sink = new Sink(OFFSET + length);
            PduDecoder d = decoder(hd, dd, sink);
            EmbeddedChannel ch = channel(d);
            List<Pdu> got = new ArrayList<>();
            try {
                while (wire.isReadable()) {
                    if (r.nextInt(3) == 0 && socketRead(d, ch, wire, 1 + r.nextInt(70_000)) >= 0) {
                        // read into the destination
                    } else {
                        ch.writeInbound(wire.readRetainedSlice(Math.min(wire.readableBytes(), 1 + r.nextInt(70_000))));
                    }
                    for (Pdu p; (p = ch.readInbound()) != null; ) {
                        got.add(p);
                    }
                }
                assertEquals(2, got.size(), "round " + round);
                byte[] back = new byte[length];
                got.get(0).data().getBytes(got.get(0).data().readerIndex(), back);
                assertArrayEquals(data, back, "round " + round);
                assertEquals(100, got.get(1).dataLength());
            } finally {
                got.forEach(Pdu::release);
                wire.release();
                ch.finishAndReleaseAll();
                assertEquals(1, sink.destination.refCnt());
                sink.destination.release();
            }
        }
    }

    @Test
    void badDataDigestAfterPlacementFailsAndLetsGoOfTheDestination() {
        byte[] data = random(50000, 4);
        ByteBuf wire = PduCodecTest.encode(false, true, dataIn(ITT, 0, data));
        wire.setByte(wire.writerIndex() - 1, wire.getByte(wire.writerIndex() - 1) ^ 0x40); // the digest
        Sink sink = new Sink(50000);
        PduDecoder d = decoder(false, true, sink);
        EmbeddedChannel ch = channel(d);
        try {
            ch.writeInbound(wire.readRetainedSlice(1000));
            socketRead(d, ch, wire, Integer.MAX_VALUE);
            ByteBuf trailer = wire.readRetainedSlice(wire.readableBytes());
            DecoderException e = assertThrows(DecoderException.class, () -> ch.writeInbound(trailer));
            assertTrue(e.getMessage().contains("data digest mismatch"), e.getMessage());
            assertEquals(1, sink.destination.refCnt());
            assertNull(d.nextReadTarget(), "a broken stream gets no more read targets");
        } finally {
            wire.release();
            ch.finishAndReleaseAll();
            sink.destination.release();
        }
    }

    @Test
    void connectionLostMidPlacementLetsGoOfTheDestination() {
        ByteBuf wire = PduCodecTest.encode(false, false, dataIn(ITT, 0, random(100000, 5)));
        Sink sink = new Sink(100000);
        PduDecoder d = decoder(false, false, sink);
        EmbeddedChannel ch = channel(d);
        ch.writeInbound(wire.readRetainedSlice(30000));
        assertEquals(2, sink.destination.refCnt(), "held while placing");
        ByteBuf unused = d.nextReadTarget();
        unused.release(); // a read that never happened: the channel's read loop releases it
        ch.close();
        assertEquals(1, sink.destination.refCnt());
        assertNull(ch.readInbound());
        ch.finishAndReleaseAll();
        wire.release();
        sink.destination.release();
    }

    @Test
    void unknownTasksAndSmallSegmentsAreOrdinaryPdus() {
        Sink sink = new Sink(1 << 20);
        PduDecoder d = decoder(false, false, sink);
        EmbeddedChannel ch = channel(d);
        byte[] big = random(200000, 6);
        byte[] small = random(12000, 7);
        ByteBuf wire = PduCodecTest.encode(false, false, dataIn(ITT + 1, 0, big), dataIn(ITT, 0, small));
        try {
            ch.writeInbound(wire.readRetainedSlice(48 + 1000));
            assertNull(d.nextReadTarget(), "the sink knows no task 0x78");
            ch.writeInbound(wire.readRetainedSlice(big.length - 1000 + 48 + 100));
            assertNull(d.nextReadTarget(), "12000 bytes are not worth a placement");
            ch.writeInbound(wire.readRetainedSlice(wire.readableBytes()));
            Pdu a = ch.readInbound();
            Pdu b = ch.readInbound();
            assertNull(a.placedInto());
            assertNull(b.placedInto());
            byte[] back = new byte[big.length];
            a.data().getBytes(a.data().readerIndex(), back);
            assertArrayEquals(big, back);
            a.release();
            b.release();
        } finally {
            wire.release();
            ch.finishAndReleaseAll();
            sink.destination.release();
        }
    }
}
