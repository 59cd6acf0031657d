package io.tapdisk4j.block;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;

/**
 * dom0-owned buffers. Every buffer a device returns, and every buffer the ring server hands to a device,
 * comes from this pooled direct allocator: memory the guest can never see or change.
 */
public final class Buffers {

    private static final ByteBufAllocator ALLOCATOR = new PooledByteBufAllocator(true);

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
