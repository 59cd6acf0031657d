package io.tapdisk4j.safety.race;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.local.MemoryDevice;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The late consumer sees exactly what a queued retransmission would: nothing new for dom0 buffers, the race otherwise. */
class LateConsumerDeviceTest {

    private static byte[] pattern(int b) {
        byte[] p = new byte[4096];
        Arrays.fill(p, (byte) b);
        return p;
    }

    private static byte[] stored(LateConsumerDevice d, long offset) throws Exception {
        ByteBuf r = d.read(offset, 4096).get(10, TimeUnit.SECONDS);
        try {
            return ByteBufUtil.getBytes(r);
        } finally {
            r.release();
        }
    }

    @Test
    void dom0BufferReplaysTheOriginalData() throws Exception {
        try (LateConsumerDevice d = new LateConsumerDevice(new MemoryDevice("m", 1 << 20))) {
            ByteBuf b = Buffers.direct(4096).writeBytes(pattern(0xA));
            d.write(8192, b, false).get(10, TimeUnit.SECONDS);
            List<LateConsumerDevice.Replay> r = d.replayLate();
            assertEquals(1, r.size());
            assertFalse(r.get(0).useAfterUnmap());
            assertArrayEquals(pattern(0xA), stored(d, 8192));
        }
    }

    @Test
    void guestPageReusedAfterCompletionReachesStorage() throws Exception {
        try (LateConsumerDevice d = new LateConsumerDevice(new MemoryDevice("m", 1 << 20))) {
            ByteBuffer page = ByteBuffer.allocateDirect(4096);
            page.put(pattern(0xA)).flip();
            d.write(0, Unpooled.wrappedBuffer(page), false).get(10, TimeUnit.SECONDS);
            page.clear();
            page.put(pattern(0xB)); // the guest reuses its page for another request
            d.replayLate();
            assertArrayEquals(pattern(0xB), stored(d, 0), "the stale replay carried the guest's new data");
        }
    }

    @Test
    void unmappedPageIsAUseAfterUnmap() throws Exception {
        try (LateConsumerDevice d = new LateConsumerDevice(new MemoryDevice("m", 1 << 20))) {
            Arena mapping = Arena.ofShared();
            MemorySegment page = mapping.allocate(4096);
            page.copyFrom(MemorySegment.ofArray(pattern(0xA)));
            d.write(0, Unpooled.wrappedBuffer(page.asByteBuffer()), false).get(10, TimeUnit.SECONDS);
            mapping.close(); // the backend unmaps the grant once the request completed
            List<LateConsumerDevice.Replay> r = d.replayLate();
            assertTrue(r.get(0).useAfterUnmap(), r.toString());
            assertEquals(0, d.pending());
        }
    }

    @Test
    void mappingKeptAliveOnlyByTheBufferIsUnmappedUnderTheRawViews() throws Exception {
        try (LateConsumerDevice d = new LateConsumerDevice(new MemoryDevice("m", 1 << 20))) {
            Arena mapping = Arena.ofShared();
            MemorySegment page = mapping.allocate(4096);
            page.copyFrom(MemorySegment.ofArray(pattern(0xA)));
            // As the ring server's unsafe-map buffer: the mapping closes when the last reference goes.
            io.netty.buffer.CompositeByteBuf buf = new io.netty.buffer.CompositeByteBuf(Buffers.allocator(), true, 2) {
                @Override
                protected void deallocate() {
                    super.deallocate();
                    mapping.close();
                }
            };
            buf.addComponent(true, Unpooled.wrappedBuffer(page.asByteBuffer()));
            d.write(0, buf, false).get(10, TimeUnit.SECONDS);
            List<LateConsumerDevice.Replay> r = d.replayLate();
            assertTrue(r.get(0).useAfterUnmap(), "raw views of an unmapped page must fail: " + r);
            assertArrayEquals(pattern(0xA), stored(d, 0), "the retained read itself still saw the mapping");
        }
    }
}
