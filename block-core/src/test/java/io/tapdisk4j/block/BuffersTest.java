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
}
