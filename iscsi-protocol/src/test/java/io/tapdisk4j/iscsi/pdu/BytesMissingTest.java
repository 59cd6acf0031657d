package io.tapdisk4j.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static io.tapdisk4j.iscsi.pdu.DataInPlacementTest.ITT;
import static io.tapdisk4j.iscsi.pdu.DataInPlacementTest.OFFSET;
import static io.tapdisk4j.iscsi.pdu.DataInPlacementTest.dataIn;
import static io.tapdisk4j.iscsi.pdu.DataInPlacementTest.decoder;
import static io.tapdisk4j.iscsi.pdu.DataInPlacementTest.random;
import static io.tapdisk4j.iscsi.pdu.DataInPlacementTest.socketRead;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * What the decoder says is still to come of the PDU in progress (receive coalescing never waits for less):
 * exact from the first byte of a PDU to its last, with and without digests and padding, while a Data-In is
 * placed and while a small PDU gathers in ordinary buffers; 0 between PDUs.
 */
class BytesMissingTest {

    @ParameterizedTest(name = "length {0}, header digest {1}, data digest {2}")
    @CsvSource({"131072, false, false", "100003, true, true", "100003, false, true", "65536, true, false"})
    void countsDownToZeroThroughAPlacedDataIn(int length, boolean hd, boolean dd) {
        ByteBuf wire = PduCodecTest.encode(hd, dd, DataInPlacementTest.dataIn(ITT, OFFSET, random(length, 9)));
        int total = wire.readableBytes();
        DataInPlacementTest.Sink sink = new DataInPlacementTest.Sink(OFFSET + length);
        PduDecoder d = decoder(hd, dd, sink);
        EmbeddedChannel ch = new EmbeddedChannel(d);
        try {
            assertEquals(0, d.bytesMissing(), "nothing begun");
            ch.writeInbound(wire.readRetainedSlice(20));
            assertEquals(48 - 20, d.bytesMissing(), "a partial header: at least the rest of the header");
            int header = 48 + (hd ? 4 : 0);
            ch.writeInbound(wire.readRetainedSlice(header - 20 + 1000));
            assertEquals(total - header - 1000, d.bytesMissing(), "placement begun");
            socketRead(d, ch, wire, 30000);
            assertEquals(total - header - 31000, d.bytesMissing());
            socketRead(d, ch, wire, Integer.MAX_VALUE);
            assertEquals(wire.readableBytes(), d.bytesMissing(), "only padding and digest left");
            ch.writeInbound(wire.readRetainedSlice(wire.readableBytes()));
            assertEquals(0, d.bytesMissing(), "the PDU is out");
            assertDataLength(ch, length);
        } finally {
            release(wire, ch, sink);
        }
    }

    private static void assertDataLength(EmbeddedChannel ch, int length) {
        Pdu out = ch.readInbound();
        assertEquals(length, out.dataLength());
        out.release();
    }

    private static void release(ByteBuf wire, EmbeddedChannel ch, DataInPlacementTest.Sink sink) {
        wire.release();
        ch.finishAndReleaseAll();
        sink.destination.release();
    }

    @ParameterizedTest(name = "data {0} bytes, header digest {1}, data digest {2}")
    @CsvSource({"0, false, false", "5, true, true", "4001, false, true", "12000, true, false"})
    void smallPduGatheringInOrdinaryBuffers(int length, boolean hd, boolean dd) {
        ByteBuf wire = PduCodecTest.encode(hd, dd, dataIn(5, 0, random(length, 4)));
        int total = wire.readableBytes();
        DataInPlacementTest.Sink sink = new DataInPlacementTest.Sink(1);
        PduDecoder d = decoder(hd, dd, sink);
        EmbeddedChannel ch = new EmbeddedChannel(d);
        try {
            for (int have = 0; have < total; ) {
                int n = Math.min(total - have, Math.max(1, have == 0 ? 48 : 997));
                ch.writeInbound(wire.readRetainedSlice(n));
                have += n;
                assertEquals(total - have, d.bytesMissing(), "after " + have + " of " + total + " bytes");
            }
            assertDataLength(ch, length);
        } finally {
            release(wire, ch, sink);
        }
    }
}
