package io.tapdisk4j.block;

import io.netty.buffer.ByteBuf;
import io.netty.channel.FileRegion;

import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A second user's handle on a device someone else owns (an NBD export of a VDI attached to a guest):
 * closing the view leaves the device open, and a read-only view refuses every change with EROFS.
 */
public final class BlockDeviceView extends ForwardingBlockDevice implements FileRegionReads {

    private final boolean readOnly;

    private BlockDeviceView(BlockDevice device, boolean readOnly) {
        super(device);
        this.readOnly = readOnly;
    }

    public static BlockDevice shared(BlockDevice device, boolean readOnly) {
        return new BlockDeviceView(device, readOnly);
    }

    @Override
    public Set<Capability> capabilities() {
        if (!readOnly) {
            return delegate.capabilities();
        }
        EnumSet<Capability> c = EnumSet.of(Capability.READ_ONLY);
        for (Capability k : delegate.capabilities()) {
            if (k == Capability.ALLOCATION || k == Capability.MULTI_HANDLE_CONSISTENT) {
                c.add(k);
            }
        }
        return c;
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        if (readOnly) {
            data.release();
            return refuse();
        }
        return delegate.write(offset, data, fua);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return readOnly ? CompletableFuture.completedFuture(null) : delegate.flush();
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        return readOnly ? refuse() : delegate.discard(offset, length, secure);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        return readOnly ? refuse() : delegate.writeZeroes(offset, length, mayUnmap);
    }

    @Override
    public CompletableFuture<Void> resize(long newSize) {
        return readOnly ? refuse() : delegate.resize(newSize);
    }

    /** Reads pass through a view unchanged, so the owner's zero-copy regions do too. */
    @Override
    public FileRegion readRegion(long offset, int length) {
        return delegate instanceof FileRegionReads z ? z.readRegion(offset, length) : null;
    }

    private CompletableFuture<Void> refuse() {
        return Requests.failed(BlockError.EROFS, "read-only view of " + delegate.describe());
    }

    /** Leaves the device open: its owner closes it. */
    @Override
    public void close() {
    }

    @Override
    public String describe() {
        return delegate.describe() + (readOnly ? " (read-only view)" : " (shared)");
    }
}
