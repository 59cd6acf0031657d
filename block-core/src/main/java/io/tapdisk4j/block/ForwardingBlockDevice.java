package io.tapdisk4j.block;

import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A device that passes every call to another; subclasses override only what they change (a read-only view,
 * a fault-injecting wrapper in a test, a device that hides a capability).
 */
public abstract class ForwardingBlockDevice implements BlockDevice {

    protected final BlockDevice delegate;

    protected ForwardingBlockDevice(BlockDevice delegate) {
        this.delegate = delegate;
    }

    @Override
    public long size() {
        return delegate.size();
    }

    @Override
    public int logicalBlockSize() {
        return delegate.logicalBlockSize();
    }

    @Override
    public int physicalBlockSize() {
        return delegate.physicalBlockSize();
    }

    @Override
    public Set<Capability> capabilities() {
        return delegate.capabilities();
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return delegate.read(offset, length);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        return delegate.write(offset, data, fua);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return delegate.flush();
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        return delegate.discard(offset, length, secure);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        return delegate.writeZeroes(offset, length, mayUnmap);
    }

    @Override
    public CompletableFuture<List<Extent>> allocation(long offset, long length) {
        return delegate.allocation(offset, length);
    }

    @Override
    public CompletableFuture<List<BlockStatus>> allocationDepth(long offset, long length) {
        return delegate.allocationDepth(offset, length);
    }

    @Override
    public List<DirtyBitmap> dirtyBitmaps() {
        return delegate.dirtyBitmaps();
    }

    @Override
    public CompletableFuture<Void> resize(long newSize) {
        return delegate.resize(newSize);
    }

    @Override
    public void close() {
        delegate.close();
    }

    @Override
    public String describe() {
        return delegate.describe();
    }
}
