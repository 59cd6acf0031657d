package io.tapdisk4j.block.local;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.Requests;
import io.tapdisk4j.block.Writes;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/** Discards writes and reads zeroes, completing at once: the device benchmarks measure the frontend with. */
public final class NullDevice implements BlockDevice {

    /**
     * Reads up to this size are read-only views of one shared zero buffer: a benchmark device that cleared
     * every read buffer would charge the frontend being measured for a memset it never asked for.
     */
    static final int SHARED_ZEROES = 4 << 20;
    private static final ByteBuf ZEROES = Unpooled.unreleasableBuffer(
            Unpooled.directBuffer(SHARED_ZEROES, SHARED_ZEROES).writeZero(SHARED_ZEROES).asReadOnly());

    private final long size;

    public NullDevice(long size) {
        this.size = size;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public Set<Capability> capabilities() {
        return EnumSet.of(Capability.FLUSH, Capability.FUA, Capability.DISCARD, Capability.DISCARD_ZEROES,
                Capability.WRITE_ZEROES, Capability.ALLOCATION, Capability.MULTI_HANDLE_CONSISTENT,
                Capability.SECURE_DISCARD);
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        return CompletableFuture.completedFuture(length <= SHARED_ZEROES ? ZEROES.slice(0, length) : Buffers.zeroes(length));
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        CompletableFuture<Void> refused = Writes.refuse(this, false, offset, data, size);
        if (refused != null) {
            return refused;
        }
        data.release();
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        return rangeOnly(offset, length);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        return rangeOnly(offset, length);
    }

    private CompletableFuture<Void> rangeOnly(long offset, long length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size);
        return bad != null ? CompletableFuture.failedFuture(bad) : CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<List<Extent>> allocation(long offset, long length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        return CompletableFuture.completedFuture(length == 0 ? List.of() : List.of(Extent.hole(offset, length)));
    }

    @Override
    public void close() {
    }

    @Override
    public String describe() {
        return "null:?size=" + size;
    }
}
