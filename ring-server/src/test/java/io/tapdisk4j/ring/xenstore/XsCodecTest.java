package io.tapdisk4j.ring.xenstore;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.DecoderException;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class XsCodecTest {

    private static ByteBuf header(int type, int req, int tx, long len) {
        ByteBuf b = Unpooled.buffer();
        b.writeIntLE(type).writeIntLE(req).writeIntLE(tx).writeIntLE((int) len);
        return b;
    }

    @Test
    void encodesTheXsWireHeaderLittleEndian() {
        EmbeddedChannel ch = new EmbeddedChannel(new XsEncoder());
        ch.writeOutbound(XsMessage.of(XsType.WRITE, 0x01020304, 7, XsMessage.pathAndValue("/a", "v".getBytes())));
        ByteBuf out = ch.readOutbound();
        try {
            assertEquals(16 + 4, out.readableBytes());
            assertEquals(11, out.getIntLE(0));
            assertEquals(0x04, out.getByte(4)); // little-endian req_id
            assertEquals(7, out.getIntLE(8));
            assertEquals(4, out.getIntLE(12));
            byte[] payload = new byte[4];
            out.getBytes(16, payload);
            assertArrayEquals(new byte[]{'/', 'a', 0, 'v'}, payload);
        } finally {
            out.release();
        }
        assertFalse(ch.finish());
    }

    @Test
    void roundTripsEveryTypeAndTheLargestPayload() {
        EmbeddedChannel ch = new EmbeddedChannel(new XsEncoder(), new XsDecoder());
        for (XsType t : XsType.values()) {
            XsMessage m = XsMessage.of(t, t.code() * 3, -1, XsMessage.strings("/local/domain/0", "tok"));
            ch.writeOutbound(m);
            ByteBuf wire = ch.readOutbound();
            ch.writeInbound(wire);
            assertEquals(m, ch.readInbound());
        }
        XsMessage big = new XsMessage(2, 1, 0, new byte[XsMessage.PAYLOAD_MAX]);
        ch.writeOutbound(big);
        ch.writeInbound((ByteBuf) ch.readOutbound());
        assertEquals(big, ch.readInbound());
        assertFalse(ch.finish());
    }

    @Test
    void reassemblesAMessageFedOneByteAtATime() {
        EmbeddedChannel ch = new EmbeddedChannel(new XsDecoder());
        ByteBuf wire = header(2, 9, 0, 3).writeBytes("/x\0".getBytes(StandardCharsets.US_ASCII));
        while (wire.isReadable()) {
            assertNull(ch.readInbound());
            ch.writeInbound(wire.readRetainedSlice(1));
        }
        wire.release();
        XsMessage m = ch.readInbound();
        assertEquals(XsType.READ, m.knownType());
        assertEquals(List.of("/x"), m.strings());
        assertFalse(ch.finish());
    }

    @Test
    void twoMessagesInOneReadBothDecode() {
        EmbeddedChannel ch = new EmbeddedChannel(new XsDecoder());
        ByteBuf wire = header(6, 1, 0, 1).writeByte(0);
        wire.writeBytes(header(16, 2, 0, 7)).writeBytes("ENOENT\0".getBytes(StandardCharsets.US_ASCII));
        ch.writeInbound(wire);
        assertEquals(XsType.TRANSACTION_START, ((XsMessage) ch.readInbound()).knownType());
        XsMessage err = ch.readInbound();
        assertEquals("ENOENT", err.text());
        assertFalse(ch.finish());
    }

    @Test
    void truncatedMessageYieldsNothingAndLeaksNothing() {
        EmbeddedChannel ch = new EmbeddedChannel(new XsDecoder());
        ch.writeInbound(header(2, 1, 0, 100).writeBytes(new byte[50]));
        assertNull(ch.readInbound());
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[5])); // a header fragment of nothing
        assertNull(ch.readInbound());
        assertFalse(ch.finish()); // the peer hung up mid-message: nothing half-decoded comes out
    }

    @Test
    void oversizedLengthIsRejectedAndTheRestDiscarded() {
        EmbeddedChannel ch = new EmbeddedChannel(new XsDecoder());
        DecoderException e = assertThrows(DecoderException.class,
                () -> ch.writeInbound(header(2, 1, 0, XsMessage.PAYLOAD_MAX + 1)));
        assertInstanceOf(CorruptedFrameException.class, e);
        // Nothing after a bad frame can be trusted: even a valid-looking message is dropped.
        ch.writeInbound(header(2, 2, 0, 0));
        assertNull(ch.readInbound());
        assertFalse(ch.finish());
    }

    @Test
    void hostileLengthWithHighBitIsNotNegative() {
        EmbeddedChannel ch = new EmbeddedChannel(new XsDecoder());
        assertThrows(CorruptedFrameException.class, () -> ch.writeInbound(header(2, 1, 0, 0xFFFFFFF0L)));
        assertFalse(ch.finish());
    }

    @Test
    void unknownTypesDecodeSoTheServerCanAnswerEinval() {
        EmbeddedChannel ch = new EmbeddedChannel(new XsDecoder());
        ch.writeInbound(header(20, 1, 0, 0)); // XS_RESTRICT, removed from Xen
        ch.writeInbound(header(0xFFFF, 2, 0, 0)); // XS_INVALID
        XsMessage a = ch.readInbound();
        XsMessage b = ch.readInbound();
        assertNull(a.knownType());
        assertNull(b.knownType());
        assertEquals(0xFFFF, b.type());
        assertFalse(ch.finish());
    }

    @Test
    void payloadStringsSplitAtNul() {
        assertEquals(List.of(), new XsMessage(1, 0, 0, new byte[0]).strings());
        assertEquals(List.of("a", "b"), new XsMessage(1, 0, 0, "a\0b\0".getBytes()).strings());
        assertEquals(List.of("a", "b"), new XsMessage(1, 0, 0, "a\0b".getBytes()).strings());
        assertEquals(List.of("", "x"), new XsMessage(1, 0, 0, "\0x\0".getBytes()).strings());
        assertEquals("OK", new XsMessage(11, 0, 0, "OK\0".getBytes()).text());
        assertArrayEquals("p\0t\0".getBytes(), XsMessage.strings("p", "t"));
        assertThrows(IllegalArgumentException.class, () -> new XsMessage(2, 0, 0, new byte[4097]));
    }

    @Test
    void permissionsParseAndPrint() {
        assertEquals(new XsPerm(XsPerm.Access.WRITE, 5), XsPerm.parse("w5"));
        assertEquals("b7", XsPerm.parse("b7").toString());
        for (String bad : new String[]{"", "x1", "w", "w-1", "r99999", "n1a", "w+3"}) {
            assertThrows(IllegalArgumentException.class, () -> XsPerm.parse(bad), bad);
        }
    }

    @Test
    void errorStringsMapToExceptions() {
        assertInstanceOf(XsNoEntryException.class, XsErrorException.of(XsError.parse("ENOENT"), "x"));
        assertInstanceOf(XsConflictException.class, XsErrorException.of(XsError.parse("EAGAIN"), "x"));
        assertEquals(XsError.EACCES, XsErrorException.of(XsError.parse("EACCES"), "x").error());
        assertEquals(XsError.EIO, XsError.parse("EWHATEVER"));
        assertTrue(XsErrorException.of(XsError.EINVAL, "READ /x").getMessage().contains("EINVAL"));
    }
}
