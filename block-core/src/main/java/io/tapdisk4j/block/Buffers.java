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

    /** The alignment O_DIRECT needs of a buffer's address (the logical block size of today's disks, 4 KiB). */
    public static final int IO_ALIGNMENT = 4096;

    private static final ByteBufAllocator ALLOCATOR;
    /**
     * Data buffers (4 KiB and larger) come from a pool whose memory is 4 KiB-aligned: the default pool's chunks
     * start 16 bytes past a page (malloc's header), so no buffer of it could ever be written with O_DIRECT, and a
     * file opened with direct=1 silently went through the page cache. Small buffers (headers, replies) stay in
     * the default pool, where aligning them would round every one up to 4 KiB.
     */
    private static final PooledByteBufAllocator ALIGNED;
    /** Both pools, once each (one when Netty cannot align). */
    private static final java.util.List<PooledByteBufAllocator> POOLS;

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
        // Netty aligns only with sun.misc.Unsafe's memory access (the launcher allows it); without it, data
        // buffers share the default pool and O_DIRECT files take them through their buffered descriptor.
        ALIGNED = !PooledByteBufAllocator.isDirectMemoryCacheAlignmentSupported() ? (PooledByteBufAllocator) ALLOCATOR
                : new PooledByteBufAllocator(true, PooledByteBufAllocator.defaultNumHeapArena(),
                PooledByteBufAllocator.defaultNumDirectArena(), PooledByteBufAllocator.defaultPageSize(),
                PooledByteBufAllocator.defaultMaxOrder(), PooledByteBufAllocator.defaultSmallCacheSize(),
                PooledByteBufAllocator.defaultNormalCacheSize(), PooledByteBufAllocator.defaultUseCacheForAllThreads(),
                IO_ALIGNMENT);
        POOLS = ALIGNED == ALLOCATOR ? java.util.List.of(ALIGNED)
                : java.util.List.of((PooledByteBufAllocator) ALLOCATOR, ALIGNED);
    }

    private Buffers() {
    }

    public static ByteBufAllocator allocator() {
        return ALLOCATOR;
    }

    /** The pools, for metrics: the default one and the aligned one of data buffers. */
    public static java.util.List<PooledByteBufAllocator> pools() {
        return POOLS;
    }

    /** Direct memory in use by both pools. */
    public static long usedDirectMemory() {
        long used = 0;
        for (PooledByteBufAllocator p : POOLS) {
            used += p.metric().usedDirectMemory();
        }
        return used;
    }

    /** A buffer of {@code capacity} bytes; from 4 KiB up its address is 4 KiB-aligned (O_DIRECT can take it). */
    public static ByteBuf direct(int capacity) {
        return (capacity >= IO_ALIGNMENT ? ALIGNED : ALLOCATOR).directBuffer(capacity, capacity);
    }

    /** A direct buffer of {@code length} zero bytes, writer index at the end. */
    public static ByteBuf zeroes(int length) {
        ByteBuf b = direct(length);
        b.writeZero(length);
        return b;
    }
}
