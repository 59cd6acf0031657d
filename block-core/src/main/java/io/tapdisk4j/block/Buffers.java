package io.tapdisk4j.block;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;

/**
 * dom0-owned buffers. Every buffer a device returns, and every buffer the ring server hands to a device,
 * comes from this pooled direct allocator: memory the guest can never see or change.
 */
public final class Buffers {

    /** The largest buffer an event loop keeps for its own reuse; a request is at most 1 MiB (blkif, NBD). */
    public static final int THREAD_CACHED_CAPACITY = 1 << 20;

    private static final ByteBufAllocator ALLOCATOR;

    static {
        // Netty caches per thread only buffers up to 32 KiB by default. Larger request buffers then go back
        // to their 4 MiB chunk, and a chunk that empties is freed and the next one zeroed anew: a ring with
        // four 1 MiB writes in flight spent 60% of its time in that. Netty reads this once, when the pooled
        // allocator is first used, which is here (the rest of Netty uses its adaptive allocator); a value
        // set on the command line wins.
        if (System.getProperty("io.netty.allocator.maxCachedBufferCapacity") == null) {
            System.setProperty("io.netty.allocator.maxCachedBufferCapacity", Integer.toString(THREAD_CACHED_CAPACITY));
        }
        ALLOCATOR = new PooledByteBufAllocator(true);
    }

    private Buffers() {
    }

    public static ByteBufAllocator allocator() {
        return ALLOCATOR;
    }

    public static ByteBuf direct(int capacity) {
        return ALLOCATOR.directBuffer(capacity, capacity);
    }

    /** A direct buffer of {@code length} zero bytes, writer index at the end. */
    public static ByteBuf zeroes(int length) {
        ByteBuf b = ALLOCATOR.directBuffer(length, length);
        b.writeZero(length);
        return b;
    }
}
