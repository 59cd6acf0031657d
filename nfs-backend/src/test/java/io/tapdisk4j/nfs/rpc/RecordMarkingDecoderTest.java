package io.tapdisk4j.nfs.rpc;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RecordMarkingDecoderTest {

    static ByteBuf fragment(boolean last, byte[] data) {
        ByteBuf b = Unpooled.buffer();
        b.writeInt((last ? 0x80000000 : 0) | data.length);
        b.writeBytes(data);
        return b;
    }

    static byte[] take(EmbeddedChannel ch) {
        ByteBuf b = ch.readInbound();
        try {
            return ByteBufUtil.getBytes(b);
        } finally {
            b.release();
        }
    }

    @Test
    void singleAndMultiFragmentRecords() {
        EmbeddedChannel ch = new EmbeddedChannel(new RecordMarkingDecoder(1024));
        ch.writeInbound(fragment(true, new byte[]{1, 2, 3, 4}));
        assertArrayEquals(new byte[]{1, 2, 3, 4}, take(ch));
        ch.writeInbound(fragment(false, new byte[]{5, 6}));
        assertNull(ch.readInbound());
        ch.writeInbound(fragment(false, new byte[0]));
        ch.writeInbound(fragment(true, new byte[]{7}));
        assertArrayEquals(new byte[]{5, 6, 7}, take(ch));
        assertFalse(ch.finish());
    }

    @Test
    void recordArrivingByteByByte() {
        EmbeddedChannel ch = new EmbeddedChannel(new RecordMarkingDecoder(1024));
        ByteBuf all = Unpooled.wrappedBuffer(fragment(false, new byte[]{9, 8, 7}), fragment(true, new byte[]{6, 5}));
        while (all.isReadable()) {
            ch.writeInbound(all.readRetainedSlice(1));
        }
        all.release();
        assertArrayEquals(new byte[]{9, 8, 7, 6, 5}, take(ch));
        assertFalse(ch.finish());
    }

    @Test
    void truncatedRecordYieldsNothingAndIsReleasedOnClose() {
        EmbeddedChannel ch = new EmbeddedChannel(new RecordMarkingDecoder(1024));
        ByteBuf f = fragment(true, new byte[100]);
        ch.writeInbound(f.retainedSlice(0, 50));
        f.release();
        ch.writeInbound(fragment(false, new byte[]{1}));
        assertNull(ch.readInbound());
        assertFalse(ch.finish()); // buffered bytes and the partial record are released (LeakCheck verifies)
    }

    @Test
    void oversizedFragmentIsRefusedBeforeItsBytesArrive() {
        EmbeddedChannel ch = new EmbeddedChannel(new RecordMarkingDecoder(1024));
        ByteBuf header = Unpooled.buffer().writeInt(0x80000000 | 0x7fffffff);
        DecoderException e = assertThrows(DecoderException.class, () -> ch.writeInbound(header));
        assertTrue(e.getMessage().contains("exceeds"), e.getMessage());
        ch.finishAndReleaseAll();
    }

    @Test
    void recordGrowingPastTheLimitAcrossFragmentsIsRefused() {
        EmbeddedChannel ch = new EmbeddedChannel(new RecordMarkingDecoder(1024));
        ch.writeInbound(fragment(false, new byte[600]));
        assertThrows(DecoderException.class, () -> ch.writeInbound(fragment(true, new byte[600])));
        ch.finishAndReleaseAll();
    }

    @Test
    void endlessEmptyFragmentsAreRefused() {
        EmbeddedChannel ch = new EmbeddedChannel(new RecordMarkingDecoder(1024, 16));
        ByteBuf many = Unpooled.buffer();
        for (int i = 0; i < 100; i++) {
            many.writeInt(0);
        }
        assertThrows(DecoderException.class, () -> ch.writeInbound(many));
        ch.finishAndReleaseAll();
    }

    @Test
    void encoderPrefixesTheLastFragmentMark() {
        EmbeddedChannel ch = new EmbeddedChannel(RecordMarkingEncoder.INSTANCE);
        ch.writeOutbound(Unpooled.wrappedBuffer(new byte[]{1, 2, 3}));
        ByteBuf header = ch.readOutbound();
        assertEquals(0x80000003, header.readInt());
        header.release();
        ByteBuf body = ch.readOutbound();
        assertArrayEquals(new byte[]{1, 2, 3}, ByteBufUtil.getBytes(body));
        body.release();
        assertFalse(ch.finish());
    }
}
