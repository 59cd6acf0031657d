package io.tapdisk4j.vhd;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.Extent;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/** A real device that cannot grow and has no write-zeroes, the way an iSCSI LUN looks to the VHD layer. */
final class LunLikeDevice implements BlockDevice {

    private final BlockDevice inner;

    LunLikeDevice(BlockDevice inner) {
        this.inner = inner;
    }

    @Override
    public long size() {
        return inner.size();
    }

    @Override
    public Set<Capability> capabilities() {
        Set<Capability> c = EnumSet.copyOf(inner.capabilities());
        c.remove(Capability.RESIZE);
        c.remove(Capability.WRITE_ZEROES);
        return c;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return inner.read(offset, length);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        return inner.write(offset, data, fua);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return inner.flush();
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        return inner.discard(offset, length, secure);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        return inner.writeZeroes(offset, length, mayUnmap);
    }

    @Override
    public CompletableFuture<List<Extent>> allocation(long offset, long length) {
        return inner.allocation(offset, length);
    }

    @Override
    public void close() {
        inner.close();
    }

    @Override
    public String describe() {
        return "lun:" + inner.describe();
    }
}
