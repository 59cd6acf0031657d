package io.tapdisk4j.ring.xenbus;

import io.netty.buffer.ByteBuf;
import io.netty.channel.FileRegion;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.FileRegionReads;
import io.tapdisk4j.block.Requests;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * The storage a VBD serves now, for a second user (an NBD export): a pause closes the image chain and a
 * resume opens it again, perhaps another image (after a snapshot or a relink), so every call looks the
 * device up afresh instead of holding the one open at export time. While paused, requests fail with EIO.
 */
final class FollowingDevice implements BlockDevice, FileRegionReads {

    private final Supplier<BlockDevice> current;
    private final String name;

    FollowingDevice(Supplier<BlockDevice> current, String name) {
        this.current = current;
        this.name = name;
    }

    private BlockDevice now() {
        return current.get();
    }

    private <T> CompletableFuture<T> paused() {
        return Requests.failed(BlockError.EIO, name + " is paused (its image chain is closed)");
    }

    @Override
    public long size() {
        BlockDevice d = now();
        return d == null ? 0 : d.size();
    }

    @Override
    public int logicalBlockSize() {
        BlockDevice d = now();
        return d == null ? 512 : d.logicalBlockSize();
    }

    @Override
    public int physicalBlockSize() {
        BlockDevice d = now();
        return d == null ? 4096 : d.physicalBlockSize();
    }

    @Override
    public Set<Capability> capabilities() {
        BlockDevice d = now();
        return d == null ? Set.of() : d.capabilities();
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        BlockDevice d = now();
        return d == null ? paused() : d.read(offset, length);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        BlockDevice d = now();
        if (d == null) {
            data.release();
            return paused();
        }
        return d.write(offset, data, fua);
    }

    @Override
    public CompletableFuture<Void> flush() {
        BlockDevice d = now();
        return d == null ? paused() : d.flush();
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        BlockDevice d = now();
        return d == null ? paused() : d.discard(offset, length, secure);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        BlockDevice d = now();
        return d == null ? paused() : d.writeZeroes(offset, length, mayUnmap);
    }

    @Override
    public CompletableFuture<List<Extent>> allocation(long offset, long length) {
        BlockDevice d = now();
        return d == null ? paused() : d.allocation(offset, length);
    }

    @Override
    public CompletableFuture<List<io.tapdisk4j.block.BlockStatus>> allocationDepth(long offset, long length) {
        BlockDevice d = now();
        return d == null ? paused() : d.allocationDepth(offset, length);
    }

    /** The current image's change-tracking bitmaps (none while paused: the log is closed with the chain). */
    @Override
    public List<io.tapdisk4j.block.DirtyBitmap> dirtyBitmaps() {
        BlockDevice d = now();
        return d == null ? List.of() : d.dirtyBitmaps();
    }

    @Override
    public CompletableFuture<Void> resize(long newSize) {
        BlockDevice d = now();
        return d == null ? paused() : d.resize(newSize);
    }

    @Override
    public FileRegion readRegion(long offset, int length) {
        return now() instanceof FileRegionReads z ? z.readRegion(offset, length) : null;
    }

    /** The VBD owns the storage. */
    @Override
    public void close() {
    }

    @Override
    public String describe() {
        BlockDevice d = now();
        return d == null ? name + " (paused)" : d.describe();
    }
}
