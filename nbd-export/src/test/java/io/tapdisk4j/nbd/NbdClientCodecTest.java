package io.tapdisk4j.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.tapdisk4j.block.Buffers;
import org.junit.jupiter.api.Test;

import static io.tapdisk4j.nbd.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/** The client's decoder and encoder: layouts, fragmentation, and malformed or oversized server input. */
class NbdClientCodecTest {

    static EmbeddedChannel transmitting(long readLength) {
        NbdClientDecoder d = new NbdClientDecoder(1 << 20);
        d.enterTransmission(cookie -> cookie == 99 ? -1 : readLength);
        return new EmbeddedChannel(d);
    }

    @Test
    void greetingAndOptionRepliesFedByteByByte() {
        EmbeddedChannel ch = new EmbeddedChannel(new NbdClientDecoder(1 << 20));
        ByteBuf b = Unpooled.buffer().writeLong(NBDMAGIC).writeLong(IHAVEOPT).writeShort(3)
                .writeLong(OPTION_REPLY_MAGIC).writeInt(OPT_GO).writeInt(REP_INFO).writeInt(12)
                .writeShort(INFO_EXPORT).writeLong(1 << 20).writeShort(1);
        NbdServerCodecTest.trickle(ch, b);
        assertEquals(new NbdServerGreeting(3), ch.readInbound());
        NbdOptionReply r = ch.readInbound();
        assertEquals(REP_INFO, r.type());
        assertEquals(12, r.data().length);
        assertFalse(ch.finish());
    }

    @Test
    void oldstyleOrGarbageGreetingFails() {
        EmbeddedChannel ch = new EmbeddedChannel(new NbdClientDecoder(1 << 20));
        assertThrows(DecoderException.class, () -> ch.writeInbound(Unpooled.buffer().writeLong(NBDMAGIC)
                .writeLong(0x00420281861253L).writeShort(0)));
        ch.finishAndReleaseAll();
    }

    @Test
    void plainTextBehindStartTlsAckIsRefused() {
        EmbeddedChannel ch = new EmbeddedChannel(new NbdClientDecoder(1 << 20));
        ch.writeInbound(Unpooled.buffer().writeLong(NBDMAGIC).writeLong(IHAVEOPT).writeShort(3));
        ch.readInbound();
        assertThrows(DecoderException.class, () -> ch.writeInbound(Unpooled.buffer().writeLong(OPTION_REPLY_MAGIC)
                .writeInt(OPT_STARTTLS).writeInt(REP_ACK).writeInt(0)
                .writeLong(OPTION_REPLY_MAGIC).writeInt(OPT_GO).writeInt(REP_ACK).writeInt(0)));
        ch.finishAndReleaseAll();
    }

    @Test
    void oversizedOptionReplyFails() {
        EmbeddedChannel ch = new EmbeddedChannel(new NbdClientDecoder(1 << 20));
        ch.writeInbound(Unpooled.buffer().writeLong(NBDMAGIC).writeLong(IHAVEOPT).writeShort(3));
        ch.readInbound();
        assertThrows(DecoderException.class, () -> ch.writeInbound(Unpooled.buffer().writeLong(OPTION_REPLY_MAGIC)
                .writeInt(OPT_LIST).writeInt(REP_SERVER).writeInt(0x7FFFFFFF)));
        ch.finishAndReleaseAll();
    }

    @Test
    void simpleReplyWithReadDataAcrossFragments() {
        EmbeddedChannel ch = transmitting(8);
        ByteBuf b = Unpooled.buffer().writeInt(SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(5).writeLong(0x0102030405060708L)
                .writeInt(SIMPLE_REPLY_MAGIC).writeInt(EIO).writeLong(6);
        NbdServerCodecTest.trickle(ch, b);
        NbdSimpleReply r = ch.readInbound();
        assertEquals(5, r.cookie());
        assertEquals(0x0102030405060708L, r.data().getLong(r.data().readerIndex()));
        r.release();
        NbdSimpleReply e = ch.readInbound();
        assertEquals(EIO, e.error());
        assertNull(e.data(), "an error reply carries no data");
        assertFalse(ch.finish());
    }

    @Test
    void replyToUnknownCookieFails() {
        EmbeddedChannel ch = transmitting(0);
        assertThrows(DecoderException.class, () -> ch.writeInbound(Unpooled.buffer().writeInt(SIMPLE_REPLY_MAGIC)
                .writeInt(0).writeLong(99)));
        ch.finishAndReleaseAll();
    }

    @Test
    void structuredChunksAndHostileOnes() {
        EmbeddedChannel ch = transmitting(0);
        ByteBuf b = Unpooled.buffer().writeInt(STRUCTURED_REPLY_MAGIC).writeShort(REPLY_FLAG_DONE)
                .writeShort(REPLY_TYPE_OFFSET_DATA).writeLong(1).writeInt(8 + 4).writeLong(4096).writeInt(7);
        NbdServerCodecTest.trickle(ch, b);
        NbdChunk c = ch.readInbound();
        assertTrue(c.done());
        assertEquals(4096, c.head().getLong(c.head().readerIndex()));
        assertEquals(7, c.data().getInt(c.data().readerIndex()));
        c.release();
        // OFFSET_DATA without data.
        EmbeddedChannel short1 = transmitting(0);
        assertThrows(DecoderException.class, () -> short1.writeInbound(Unpooled.buffer().writeInt(STRUCTURED_REPLY_MAGIC)
                .writeShort(0).writeShort(REPLY_TYPE_OFFSET_DATA).writeLong(1).writeInt(8).writeLong(0)));
        short1.finishAndReleaseAll();
        // A chunk far beyond the maximum payload is refused before anything is buffered.
        EmbeddedChannel big = transmitting(0);
        assertThrows(DecoderException.class, () -> big.writeInbound(Unpooled.buffer().writeInt(STRUCTURED_REPLY_MAGIC)
                .writeShort(0).writeShort(REPLY_TYPE_OFFSET_DATA).writeLong(1).writeInt(0x7FFFFFFF)));
        big.finishAndReleaseAll();
        // Bad magic.
        EmbeddedChannel bad = transmitting(0);
        assertThrows(DecoderException.class, () -> bad.writeInbound(Unpooled.buffer().writeInt(0x12345678).writeZero(20)));
        bad.finishAndReleaseAll();
        ch.finishAndReleaseAll();
    }

    static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        new java.util.Random(seed).nextBytes(b);
        return b;
    }

    static byte[] bytes(ByteBuf b) {
        byte[] a = new byte[b.readableBytes()];
        b.getBytes(b.readerIndex(), a);
        return a;
    }

    @Test
    void largeReadDataGetsABufferOfItsOwnAcrossFragments() {
        int len = 300_000;
        byte[] data = pattern(len, 1);
        EmbeddedChannel ch = transmitting(len);
        // A simple reply whose data comes in pieces, followed by the next reply in the same piece.
        ByteBuf all = Unpooled.buffer().writeInt(SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(5).writeBytes(data)
                .writeInt(SIMPLE_REPLY_MAGIC).writeInt(EIO).writeLong(6);
        int[] cuts = {16 + 1000, 70_000, 100_000, 16 + len + 16 - 170_000 - 1000};
        for (int cut : cuts) {
            ch.writeInbound(all.readRetainedSlice(Math.min(cut, all.readableBytes())));
        }
        assertFalse(all.isReadable());
        all.release();
        NbdSimpleReply r = ch.readInbound();
        assertEquals(5, r.cookie());
        assertEquals(len, r.data().capacity(), "its own buffer, not a slice of a cumulation");
        assertArrayEquals(data, bytes(r.data()));
        r.release();
        NbdSimpleReply e = ch.readInbound();
        assertEquals(EIO, e.error());
        assertFalse(ch.finish());
    }

    @Test
    void theSocketReadsStraightIntoLargeReadData() {
        int len = 200_000;
        byte[] data = pattern(len, 2);
        NbdClientDecoder d = new NbdClientDecoder(1 << 20);
        d.enterTransmission(cookie -> 0);
        EmbeddedChannel ch = new EmbeddedChannel(d);
        assertNull(d.directReadBuffer(), "nothing under way");
        // Header, offset and the first bytes in an ordinary read.
        ch.writeInbound(Unpooled.buffer().writeInt(STRUCTURED_REPLY_MAGIC).writeShort(REPLY_FLAG_DONE)
                .writeShort(REPLY_TYPE_OFFSET_DATA).writeLong(7).writeInt(8 + len).writeLong(1L << 33)
                .writeBytes(data, 0, 5000));
        assertNull(ch.readInbound());
        // Two reads into the data buffer itself, as the channel would do them.
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
        NbdChunk c = ch.readInbound();
        assertEquals(7, c.cookie());
        assertEquals(1L << 33, c.head().getLong(c.head().readerIndex()));
        assertArrayEquals(data, bytes(c.data()));
        c.release();
        assertFalse(ch.finish());
    }

    @Test
    void noDirectReadsBehindAHandlerThatTransformsTheBytes() {
        NbdClientDecoder d = new NbdClientDecoder(1 << 20);
        d.enterTransmission(cookie -> 1 << 20);
        EmbeddedChannel ch = new EmbeddedChannel(new io.netty.channel.ChannelInboundHandlerAdapter(), d); // stands for TLS
        ch.writeInbound(Unpooled.buffer().writeInt(SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(1).writeZero(100));
        assertNull(d.directReadBuffer());
        ch.finishAndReleaseAll();
    }

    @Test
    void connectionLostInTheMiddleOfLargeDataLeaksNothing() {
        NbdClientDecoder d = new NbdClientDecoder(1 << 20);
        d.enterTransmission(cookie -> 1 << 20);
        EmbeddedChannel ch = new EmbeddedChannel(d);
        ch.writeInbound(Unpooled.buffer().writeInt(SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(1).writeZero(100_000));
        ByteBuf target = d.directReadBuffer();
        target.writeZero(1000);
        ch.writeInbound(target);
        ByteBuf abandoned = d.directReadBuffer(); // handed to a read that failed: the channel releases it
        abandoned.release();
        ch.close();
        assertFalse(ch.finish());
        // The LeakCheck extension fails this class if the data buffer or a slice of it leaked.
    }

    @Test
    void randomServerBytesOnlyEverFailAsDecoderErrors() {
        long seed = Long.getLong("nbd.fuzz.seed", System.nanoTime());
        System.out.println("NbdClientCodecTest fuzz seed " + seed);
        java.util.Random r = new java.util.Random(seed);
        for (int round = 0; round < 2000; round++) {
            EmbeddedChannel ch = transmitting(r.nextInt(3) == 0 ? 4096 : 0);
            ByteBuf b = Unpooled.buffer();
            int n = r.nextInt(4);
            for (int i = 0; i < n; i++) {
                // mostly well-formed headers with hostile fields
                if (r.nextBoolean()) {
                    b.writeInt(SIMPLE_REPLY_MAGIC).writeInt(r.nextInt(3) == 0 ? r.nextInt() : 0).writeLong(r.nextInt(3));
                } else {
                    b.writeInt(STRUCTURED_REPLY_MAGIC).writeShort(r.nextInt(4)).writeShort(r.nextInt(3) == 0 ? r.nextInt(65536) : r.nextInt(6))
                            .writeLong(r.nextInt(3)).writeInt(r.nextInt(3) == 0 ? r.nextInt() : r.nextInt(64));
                }
                byte[] junk = new byte[r.nextInt(80)];
                r.nextBytes(junk);
                b.writeBytes(junk);
            }
            try {
                while (b.isReadable()) {
                    ch.writeInbound(b.readRetainedSlice(Math.min(b.readableBytes(), 1 + r.nextInt(40))));
                }
            } catch (DecoderException expected) {
                // malformed input: the connection would be dropped and re-established
            } catch (RuntimeException e) {
                fail("round " + round + " seed " + seed + ": " + e, e);
            } finally {
                b.release();
                Object m;
                while ((m = ch.readInbound()) != null) {
                    if (m instanceof NbdChunk c) {
                        c.release();
                    } else if (m instanceof NbdSimpleReply s) {
                        s.release();
                    }
                }
                try {
                    ch.finishAndReleaseAll();
                } catch (DecoderException expected) {
                    // a truncated message at close
                }
            }
        }
    }

    @Test
    void encoderOutputDecodesOnTheServerSide() {
        EmbeddedChannel client = new EmbeddedChannel(NbdClientEncoder.INSTANCE);
        NbdServerDecoder d = new NbdServerDecoder();
        EmbeddedChannel server = new EmbeddedChannel(d);
        client.writeOutbound(new NbdClientFlags(FLAG_FIXED_NEWSTYLE), NbdOptionRequest.of(OPT_LIST, new byte[0]));
        ByteBuf o;
        while ((o = client.readOutbound()) != null) {
            server.writeInbound(o);
        }
        assertEquals(new NbdClientFlags(FLAG_FIXED_NEWSTYLE), server.readInbound());
        assertEquals(OPT_LIST, ((NbdOptionRequest) server.readInbound()).option());
        d.enterTransmission();
        ByteBuf payload = Buffers.direct(16).writeLong(1).writeLong(2);
        client.writeOutbound(NbdRequest.write(CMD_FLAG_FUA, 42, 1L << 40, payload));
        while ((o = client.readOutbound()) != null) {
            server.writeInbound(o);
        }
        NbdRequest r = server.readInbound();
        assertEquals(CMD_WRITE, r.type());
        assertEquals(42, r.cookie());
        assertEquals(1L << 40, r.offset());
        assertEquals(16, r.length());
        assertEquals(2, r.data().getLong(r.data().readerIndex() + 8));
        r.release();
        assertFalse(client.finish());
        assertFalse(server.finish());
    }
}
