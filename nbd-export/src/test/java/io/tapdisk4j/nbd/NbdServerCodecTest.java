package io.tapdisk4j.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Extent;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The server's decoder and encoder on their own: byte layouts, truncated, oversized and hostile input. */
class NbdServerCodecTest {

    static ByteBuf option(int option, byte[] data) {
        return Unpooled.buffer().writeLong(NbdProtocol.IHAVEOPT).writeInt(option).writeInt(data.length).writeBytes(data);
    }

    static ByteBuf request(int flags, int type, long cookie, long offset, int length, byte[] payload) {
        ByteBuf b = Unpooled.buffer().writeInt(NbdProtocol.REQUEST_MAGIC).writeShort(flags).writeShort(type)
                .writeLong(cookie).writeLong(offset).writeInt(length);
        if (payload != null) {
            b.writeBytes(payload);
        }
        return b;
    }

    /** Feeds {@code b} one byte at a time: every message must survive arbitrary fragmentation. */
    static void trickle(EmbeddedChannel ch, ByteBuf b) {
        while (b.isReadable()) {
            ch.writeInbound(b.readRetainedSlice(1));
        }
        b.release();
    }

    @Test
    void decodesFlagsAndOptionsFedByteByByte() {
        NbdServerDecoder d = new NbdServerDecoder();
        EmbeddedChannel ch = new EmbeddedChannel(d);
        trickle(ch, Unpooled.buffer().writeInt(3));
        assertEquals(new NbdClientFlags(3), ch.readInbound());
        trickle(ch, option(NbdProtocol.OPT_GO, new byte[] {0, 0, 0, 1, 'a', 0, 0}));
        NbdOptionRequest o = ch.readInbound();
        assertEquals(NbdProtocol.OPT_GO, o.option());
        assertArrayEquals(new byte[] {0, 0, 0, 1, 'a', 0, 0}, o.data());
        assertNull(ch.readInbound());
        assertFalse(ch.finish());
    }

    @Test
    void truncatedOptionYieldsNothing() {
        EmbeddedChannel ch = new EmbeddedChannel(new NbdServerDecoder());
        ch.writeInbound(Unpooled.buffer().writeInt(1));
        ch.readInbound();
        ByteBuf b = option(NbdProtocol.OPT_LIST, new byte[10]);
        ch.writeInbound(b.retainedSlice(0, b.readableBytes() - 1));
        b.release();
        assertNull(ch.readInbound());
        ch.finishAndReleaseAll();
    }

    @Test
    void oversizedOptionIsDiscardedNotBuffered() {
        EmbeddedChannel ch = new EmbeddedChannel(new NbdServerDecoder(1024, NbdProtocol.DEFAULT_MAX_PAYLOAD));
        ch.writeInbound(Unpooled.buffer().writeInt(1));
        ch.readInbound();
        byte[] big = new byte[5000];
        ByteBuf b = option(NbdProtocol.OPT_INFO, big);
        b.writeBytes(option(NbdProtocol.OPT_LIST, new byte[0]));
        trickle(ch, b);
        NbdOptionRequest tooBig = ch.readInbound();
        assertTrue(tooBig.tooBig());
        assertEquals(5000, tooBig.declaredLength());
        NbdOptionRequest next = ch.readInbound();
        assertEquals(NbdProtocol.OPT_LIST, next.option());
        ch.finishAndReleaseAll();
    }

    @Test
    void hugeDeclaredOptionLengthDoesNotAllocate() {
        EmbeddedChannel ch = new EmbeddedChannel(new NbdServerDecoder());
        ch.writeInbound(Unpooled.buffer().writeInt(1));
        ch.readInbound();
        ch.writeInbound(Unpooled.buffer().writeLong(NbdProtocol.IHAVEOPT).writeInt(7).writeInt(0xFFFFFFFF));
        NbdOptionRequest o = ch.readInbound();
        assertTrue(o.tooBig());
        assertEquals(0xFFFFFFFFL, o.declaredLength());
        ch.finishAndReleaseAll();
    }

    @Test
    void badOptionMagicFails() {
        EmbeddedChannel ch = new EmbeddedChannel(new NbdServerDecoder());
        ch.writeInbound(Unpooled.buffer().writeInt(1));
        ch.readInbound();
        assertThrows(DecoderException.class, () -> ch.writeInbound(Unpooled.buffer().writeLong(0x1234).writeLong(0)));
        ch.finishAndReleaseAll();
    }

    static EmbeddedChannel transmission(int maxPayload) {
        NbdServerDecoder d = new NbdServerDecoder(1024, maxPayload);
        d.enterTransmission();
        return new EmbeddedChannel(d);
    }

    @Test
    void decodesWriteWithPayloadAcrossFragments() {
        EmbeddedChannel ch = transmission(NbdProtocol.DEFAULT_MAX_PAYLOAD);
        byte[] payload = new byte[300];
        for (int i = 0; i < payload.length; i++) {
            payload[i] = (byte) i;
        }
        ByteBuf all = request(NbdProtocol.CMD_FLAG_FUA, NbdProtocol.CMD_WRITE, 77, 1L << 33, 300, payload);
        all.writeBytes(request(0, NbdProtocol.CMD_READ, 78, 4096, 512, null));
        trickle(ch, all);
        NbdRequest w = ch.readInbound();
        assertEquals(NbdProtocol.CMD_WRITE, w.type());
        assertTrue(w.has(NbdProtocol.CMD_FLAG_FUA));
        assertEquals(77, w.cookie());
        assertEquals(1L << 33, w.offset());
        byte[] got = new byte[300];
        w.data().getBytes(w.data().readerIndex(), got);
        assertArrayEquals(payload, got);
        w.release();
        NbdRequest r = ch.readInbound();
        assertEquals(NbdProtocol.CMD_READ, r.type());
        assertEquals(512, r.length());
        assertNull(r.data());
        ch.finishAndReleaseAll();
    }

    @Test
    void largeWritePayloadGetsABufferOfItsOwnAcrossFragments() {
        int len = 300_000;
        byte[] data = NbdClientCodecTest.pattern(len, 1);
        EmbeddedChannel ch = transmission(NbdProtocol.DEFAULT_MAX_PAYLOAD);
        ByteBuf all = request(0, NbdProtocol.CMD_WRITE, 5, 8192, len, data);
        all.writeBytes(request(0, NbdProtocol.CMD_FLUSH, 6, 0, 0, null));
        for (int cut : new int[]{28 + 1000, 70_000, 100_000, Integer.MAX_VALUE}) {
            ch.writeInbound(all.readRetainedSlice(Math.min(cut, all.readableBytes())));
        }
        assertFalse(all.isReadable());
        all.release();
        NbdRequest w = ch.readInbound();
        assertEquals(5, w.cookie());
        assertEquals(8192, w.offset());
        assertEquals(len, w.length());
        assertEquals(len, w.data().capacity(), "its own buffer, not a slice of a cumulation");
        assertArrayEquals(data, NbdClientCodecTest.bytes(w.data()));
        w.release();
        NbdRequest f = ch.readInbound();
        assertEquals(NbdProtocol.CMD_FLUSH, f.type());
        assertFalse(ch.finish());
    }

    @Test
    void theSocketReadsStraightIntoLargeWritePayloads() {
        int len = 200_000;
        byte[] data = NbdClientCodecTest.pattern(len, 2);
        NbdServerDecoder d = new NbdServerDecoder(1024, NbdProtocol.DEFAULT_MAX_PAYLOAD);
        d.enterTransmission();
        EmbeddedChannel ch = new EmbeddedChannel(d);
        assertNull(d.directReadBuffer(), "nothing under way");
        ByteBuf head = request(NbdProtocol.CMD_FLAG_FUA, NbdProtocol.CMD_WRITE, 7, 1L << 33, len, null);
        ch.writeInbound(head.writeBytes(data, 0, 5000));
        assertNull(ch.readInbound());
        ByteBuf target = d.directReadBuffer();
        assertNotNull(target);
        assertEquals(len - 5000, target.writableBytes());
        target.writeBytes(data, 5000, 100_000);
        ch.writeInbound(target);
        assertNull(ch.readInbound());
        target = d.directReadBuffer();
        assertEquals(len - 105_000, target.writableBytes());
        target.writeBytes(data, 105_000, len - 105_000 - 10_000);
        ch.writeInbound(target);
        assertNull(d.directReadBuffer(), "10000 bytes missing: an ordinary read is cheaper");
        ch.writeInbound(Unpooled.wrappedBuffer(data, len - 10_000, 10_000));
        NbdRequest w = ch.readInbound();
        assertEquals(7, w.cookie());
        assertTrue(w.has(NbdProtocol.CMD_FLAG_FUA));
        assertEquals(1L << 33, w.offset());
        assertArrayEquals(data, NbdClientCodecTest.bytes(w.data()));
        w.release();
        assertFalse(ch.finish());
    }

    @Test
    void noDirectReadsBehindAHandlerThatTransformsTheBytes() {
        NbdServerDecoder d = new NbdServerDecoder(1024, NbdProtocol.DEFAULT_MAX_PAYLOAD);
        d.enterTransmission();
        EmbeddedChannel ch = new EmbeddedChannel(new io.netty.channel.ChannelInboundHandlerAdapter(), d); // stands for TLS
        ch.writeInbound(request(0, NbdProtocol.CMD_WRITE, 1, 0, 1 << 20, new byte[100]));
        assertNull(d.directReadBuffer());
        ch.finishAndReleaseAll();
    }

    @Test
    void connectionLostInTheMiddleOfALargeWriteLeaksNothing() {
        NbdServerDecoder d = new NbdServerDecoder(1024, NbdProtocol.DEFAULT_MAX_PAYLOAD);
        d.enterTransmission();
        EmbeddedChannel ch = new EmbeddedChannel(d);
        ch.writeInbound(request(0, NbdProtocol.CMD_WRITE, 1, 0, 1 << 20, new byte[100_000]));
        ByteBuf target = d.directReadBuffer();
        target.writeZero(1000);
        ch.writeInbound(target);
        ByteBuf abandoned = d.directReadBuffer(); // handed to a read that failed: the channel releases it
        abandoned.release();
        ch.close();
        assertFalse(ch.finish());
        // The LeakCheck extension fails this class if the payload buffer or a slice of it leaked.
    }

    @Test
    void oversizedWritePayloadIsDiscardedAndFlagged() {
        EmbeddedChannel ch = transmission(4096);
        ByteBuf all = request(0, NbdProtocol.CMD_WRITE, 1, 0, 10000, new byte[10000]);
        all.writeBytes(request(0, NbdProtocol.CMD_FLUSH, 2, 0, 0, null));
        ch.writeInbound(all);
        NbdRequest w = ch.readInbound();
        assertTrue(w.payloadDiscarded());
        assertNull(w.data());
        NbdRequest f = ch.readInbound();
        assertEquals(NbdProtocol.CMD_FLUSH, f.type());
        assertEquals(2, f.cookie());
        ch.finishAndReleaseAll();
    }

    @Test
    void truncatedRequestAndBadMagic() {
        EmbeddedChannel ch = transmission(4096);
        ByteBuf r = request(0, NbdProtocol.CMD_READ, 1, 0, 512, null);
        ch.writeInbound(r.retainedSlice(0, 27));
        assertNull(ch.readInbound());
        r.release();
        EmbeddedChannel bad = transmission(4096);
        assertThrows(DecoderException.class, () -> bad.writeInbound(Unpooled.buffer().writeInt(0xdeadbeef).writeZero(24)));
        ch.finishAndReleaseAll();
        bad.finishAndReleaseAll();
    }

    @Test
    void encodesStructuredAndSimpleReplies() {
        EmbeddedChannel ch = new EmbeddedChannel(NbdServerEncoder.INSTANCE);
        ByteBuf data = Buffers.direct(4).writeInt(0x01020304);
        ch.writeOutbound(NbdChunk.offsetData(9, 4096, data, true));
        ByteBuf h = ch.readOutbound();
        assertEquals(NbdProtocol.STRUCTURED_REPLY_MAGIC, h.readInt());
        assertEquals(NbdProtocol.REPLY_FLAG_DONE, h.readUnsignedShort());
        assertEquals(NbdProtocol.REPLY_TYPE_OFFSET_DATA, h.readUnsignedShort());
        assertEquals(9, h.readLong());
        assertEquals(12, h.readInt());
        assertEquals(4096, h.readLong());
        assertFalse(h.isReadable());
        h.release();
        ByteBuf d = ch.readOutbound();
        assertSame(data, d, "the device's buffer goes out as is");
        assertEquals(0x01020304, d.readInt());
        d.release();

        ch.writeOutbound(NbdSimpleReply.error(5, NbdProtocol.EPERM));
        ByteBuf s = ch.readOutbound();
        assertEquals(NbdProtocol.SIMPLE_REPLY_MAGIC, s.readInt());
        assertEquals(NbdProtocol.EPERM, s.readInt());
        assertEquals(5, s.readLong());
        s.release();

        ch.writeOutbound(NbdChunk.blockStatus(3, 1, List.of(Extent.hole(0, 65536), Extent.data(65536, 4096)), true));
        ByteBuf b = ch.readOutbound();
        b.skipBytes(16);
        assertEquals(4 + 16, b.readInt());
        assertEquals(1, b.readInt());
        assertEquals(65536, b.readInt());
        assertEquals(NbdProtocol.STATE_HOLE | NbdProtocol.STATE_ZERO, b.readInt());
        assertEquals(4096, b.readInt());
        assertEquals(0, b.readInt());
        b.release();

        ch.writeOutbound(NbdChunk.error(4, NbdProtocol.EIO, "bad", true));
        ByteBuf e = ch.readOutbound();
        e.skipBytes(4);
        assertEquals(NbdProtocol.REPLY_FLAG_DONE, e.readUnsignedShort());
        assertEquals(NbdProtocol.REPLY_TYPE_ERROR, e.readUnsignedShort());
        e.skipBytes(8);
        assertEquals(9, e.readInt());
        assertEquals(NbdProtocol.EIO, e.readInt());
        assertEquals(3, e.readUnsignedShort());
        e.release();

        ch.writeOutbound(new NbdExportNameReply(1 << 20, 3, true));
        ByteBuf x = ch.readOutbound();
        assertEquals(134, x.readableBytes());
        x.release();
        assertFalse(ch.finish());
    }
}
