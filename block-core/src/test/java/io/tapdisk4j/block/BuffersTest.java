package io.tapdisk4j.block;

import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BuffersTest {

    private static long address(ByteBuf b) {
        return MemorySegment.ofBuffer(b.nioBuffer(0, b.capacity())).address();
    }

    /** An event loop that frees a 1 MiB request buffer gets the same memory back for its next request. */
    @Test
    void eventLoopReusesItsOwnMegabyteBuffers() throws Exception {
        EventLoopGroup group = EventLoops.newGroup("buffers-test", 1);
        try {
            long[] addresses = group.next().submit(() -> {
                ByteBuf first = Buffers.direct(Buffers.THREAD_CACHED_CAPACITY);
                long a = address(first);
                first.release();
                ByteBuf second = Buffers.direct(Buffers.THREAD_CACHED_CAPACITY);
                long b = address(second);
                second.release();
                return new long[] {a, b};
            }).get();
            assertEquals(addresses[0], addresses[1], "the thread cache kept the freed 1 MiB buffer");
        } finally {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void buffersAreDirectAndExactlySized() {
        ByteBuf b = Buffers.direct(65536);
        try {
            assertTrue(b.isDirect());
            assertEquals(65536, b.capacity());
            assertEquals(65536, b.maxCapacity());
        } finally {
            b.release();
        }
    }

    /** What O_DIRECT needs of a data buffer; the default pool's start 16 bytes past a page. */
    @Test
    void dataBuffersAreAlignedForDirectIo() {
        for (int size : new int[] {4096, 4608, 65536, 1 << 20, 2 << 20, 3 << 20}) {
            java.util.List<ByteBuf> held = new java.util.ArrayList<>();
            try {
                for (int i = 0; i < 5; i++) {
                    ByteBuf b = Buffers.direct(size);
                    held.add(b);
                    assertEquals(0, address(b) % Buffers.IO_ALIGNMENT, size + "-byte buffer at " + address(b));
                }
            } finally {
                held.forEach(ByteBuf::release);
            }
        }
    }

    @Test
    void usedMemoryCountsBothPools() {
        long before = Buffers.usedDirectMemory();
        ByteBuf data = Buffers.direct(8 << 20); // beyond a pool chunk: allocated and counted on its own
        try {
            assertTrue(Buffers.usedDirectMemory() - before >= 8 << 20, "data buffers are counted");
        } finally {
            data.release();
        }
    }
}
