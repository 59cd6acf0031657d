package io.tapdisk4j.block;

import io.netty.buffer.ByteBuf;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A second user's handle on a device someone else owns (an NBD export of a VDI attached to a guest):
 * closing the view leaves the device open, and a read-only view refuses every change with EROFS.
 */
public final class BlockDeviceView implements BlockDevice {

    private final BlockDevice device;
    private final boolean readOnly;

    private BlockDeviceView(BlockDevice device, boolean readOnly) {
        this.device = device;
        this.readOnly = readOnly;
    }

    public static BlockDevice shared(BlockDevice device, boolean readOnly) {
        return new BlockDeviceView(device, readOnly);
    }

    @Override
    public long size() {
        return device.size();
    }

    @Override
    public int logicalBlockSize() {
        return device.logicalBlockSize();
    }

    @Override
    public int physicalBlockSize() {
        return device.physicalBlockSize();
    }

    @Override
    public Set<Capability> capabilities() {
        if (!readOnly) {
            return device.capabilities();
        }
        EnumSet<Capability> c = EnumSet.of(Capability.READ_ONLY);
        for (Capability k : device.capabilities()) {
            if (k == Capability.ALLOCATION || k == Capability.MULTI_HANDLE_CONSISTENT) {
                c.add(k);
            }
        }
        return c;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return device.read(offset, length);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        if (readOnly) {
            data.release();
            return refuse();
        }
        return device.write(offset, data, fua);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return readOnly ? CompletableFuture.completedFuture(null) : device.flush();
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        return readOnly ? refuse() : device.discard(offset, length, secure);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        return readOnly ? refuse() : device.writeZeroes(offset, length, mayUnmap);
    }

    @Override
    public CompletableFuture<List<Extent>> allocation(long offset, long length) {
        return device.allocation(offset, length);
    }

    @Override
    public CompletableFuture<Void> resize(long newSize) {
        return readOnly ? refuse() : device.resize(newSize);
    }

    private CompletableFuture<Void> refuse() {
        return Requests.failed(BlockError.EROFS, "read-only view of " + device.describe());
    }

    /** Leaves the device open: its owner closes it. */
    @Override
    public void close() {
    }

    @Override
    public String describe() {
        return device.describe() + (readOnly ? " (read-only view)" : " (shared)");
    }
}
