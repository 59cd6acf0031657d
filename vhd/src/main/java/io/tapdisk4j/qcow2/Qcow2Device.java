package io.tapdisk4j.qcow2;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.Requests;
import io.tapdisk4j.image.AllocationDepth;
import io.tapdisk4j.image.ImageLayer;
import io.tapdisk4j.image.ImageRequests;
import io.tapdisk4j.image.Io;
import io.tapdisk4j.image.LayerExtents;
import io.tapdisk4j.image.LayerReader;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A qcow2 image (version 2 or 3) presented as a {@link BlockDevice} over any transport, served by its pieces:
 * <ul>
 *   <li>{@link Qcow2ClusterMap} walks a range through the L1/L2 tables ({@link Qcow2Tables});</li>
 *   <li>{@link Qcow2Allocator} writes, allocating clusters on first write in space {@link Qcow2Space} makes
 *       and {@link Qcow2Refcounts} counts;</li>
 *   <li>{@link Qcow2MetadataWriter} writes refcounts, L2 and L1 back in that order behind flushes;</li>
 *   <li>{@link Qcow2Discarder} unmaps and zeroes; {@link Qcow2Resizer} changes the size.</li>
 * </ul>
 */
public final class Qcow2Device implements ImageLayer {

    private final Qcow2Image image;
    private final Qcow2Tables tables;
    private final Qcow2Refcounts refs;
    private final Qcow2ClusterMap map;
    private final Qcow2Space space;
    private final Qcow2MetadataWriter metadata;
    private final Qcow2Allocator allocator;
    private final Qcow2Discarder discarder;
    private final Qcow2Resizer resizer;
    private final List<Qcow2Snapshots.Snapshot> snapshots;
    private volatile boolean closed;

    Qcow2Device(Qcow2Image image, Qcow2Tables tables, Qcow2Refcounts refs, List<Qcow2Snapshots.Snapshot> snapshots) {
        this.image = image;
        this.tables = tables;
        this.refs = refs;
        this.snapshots = snapshots;
        this.map = new Qcow2ClusterMap(image, tables);
        this.space = new Qcow2Space(image, refs);
        this.metadata = new Qcow2MetadataWriter(image, tables, refs);
        this.allocator = new Qcow2Allocator(image, tables, map, space, refs, metadata);
        this.discarder = new Qcow2Discarder(image, map, allocator, metadata);
        this.resizer = new Qcow2Resizer(image, tables, space, refs, metadata, allocator);
    }

    public Qcow2Header header() {
        return image.header;
    }

    public int clusterSize() {
        return image.clusterSize;
    }

    /** The opened backing image (read-only), or null. */
    @Override
    public BlockDevice backing() {
        return image.below.device();
    }

    /** The backing file the qcow2 image on {@code transport} names (resolved, not opened), or null. */
    public static DeviceUri backingOf(BlockDevice transport, DeviceUri uri, io.tapdisk4j.block.BlockDevices devices)
            throws BlockDeviceException {
        return Qcow2Opener.backingName(transport, uri, devices);
    }

    public DeviceUri backingUri() {
        return image.below.uri();
    }

    public DeviceUri uri() {
        return image.uri;
    }

    public BlockDevice transport() {
        return image.transport;
    }

    /** Internal snapshots, listed only (tapdisk4j neither reverts to nor makes them). */
    public List<Qcow2Snapshots.Snapshot> snapshots() {
        return snapshots;
    }

    /** The byte offset where the next cluster would be appended. */
    public long endOfData() {
        return refs.nextFree() << image.clusterBits;
    }

    Qcow2Image image() {
        return image;
    }

    Qcow2Refcounts refcounts() {
        return refs;
    }

    Qcow2Tables tables() {
        return tables;
    }

    Qcow2ClusterMap clusterMap() {
        return map;
    }

    @Override
    public long size() {
        return image.size();
    }

    @Override
    public Set<Capability> capabilities() {
        EnumSet<Capability> c = EnumSet.of(Capability.FLUSH, Capability.FUA, Capability.WRITE_ZEROES,
                Capability.ALLOCATION, Capability.DISCARD, Capability.RESIZE);
        if (image.readOnly) {
            c.add(Capability.READ_ONLY);
        }
        return c;
    }

    @Override
    public String describe() {
        return image.describe();
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        BlockDeviceException bad = closed ? new BlockDeviceException(BlockError.ESHUTDOWN, describe() + " is closed")
                : Requests.checkRange(offset, length, size());
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        if (length > 0) {
            // Clusters never move and are never reused once freed, so a read or write that maps to one run
            // in the file may go there directly, without the structure lock (see Qcow2Space).
            long at = map.contiguousInFile(offset, length);
            if (at >= 0) {
                return image.transport.read(at, length);
            }
        }
        return ImageRequests.read(image, map, map::readSpecial, offset, length);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        BlockDeviceException bad = checkWritable(offset, data.readableBytes());
        if (bad != null) {
            data.release();
            return CompletableFuture.failedFuture(bad);
        }
        long at = data.readableBytes() == 0 ? -1 : map.contiguousInFile(offset, data.readableBytes());
        if (at >= 0) {
            CompletableFuture<Void> w = image.transport.write(at, data, false);
            return fua ? w.thenCompose(v -> flush()) : w;
        }
        return ImageRequests.write(image, allocator::write, metadata, offset, data, fua);
    }

    @Override
    public CompletableFuture<Void> flush() {
        if (image.readOnly) {
            return CompletableFuture.completedFuture(null);
        }
        return ImageRequests.flush(image, metadata);
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        BlockDeviceException bad = checkWritable(offset, length);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        if (secure) {
            return Requests.failed(BlockError.ENOTSUP, describe() + ": secure discard is not supported");
        }
        return Io.async(describe(), () -> {
            locked(() -> discarder.apply(offset, length, false));
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        BlockDeviceException bad = checkWritable(offset, length);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        return Io.async(describe(), () -> {
            locked(() -> discarder.apply(offset, length, true));
            return null;
        });
    }

    private void locked(io.tapdisk4j.image.AllocationTable.Body body) throws BlockDeviceException {
        image.structureLock.readLock().lock();
        try {
            body.run();
        } finally {
            image.structureLock.readLock().unlock();
        }
    }

    private BlockDeviceException checkWritable(long offset, long length) {
        return ImageRequests.checkWritable(this, image, closed, offset, length);
    }

    @Override
    public CompletableFuture<List<Extent>> allocation(long offset, long length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size());
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        return Io.async(describe(), () -> LayerExtents.of(map, image.below, offset, length, true));
    }

    @Override
    public CompletableFuture<List<io.tapdisk4j.block.BlockStatus>> allocationDepth(long offset, long length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size());
        return bad != null ? CompletableFuture.failedFuture(bad) : AllocationDepth.of(this, offset, length);
    }

    /** This image's own allocation (clusters it holds or zeroes, not its backing image's). */
    @Override
    public List<Extent> layerAllocation(long offset, long length) throws BlockDeviceException {
        BlockDeviceException bad = Requests.checkRange(offset, length, size());
        if (bad != null) {
            throw bad;
        }
        return LayerExtents.of(map, image.below, offset, length, false);
    }

    @Override
    public CompletableFuture<Void> resize(long newSize) {
        if (image.readOnly) {
            return Requests.failed(BlockError.EROFS, describe() + " is read-only");
        }
        return Io.async(describe(), () -> {
            resizer.resize(newSize, false);
            return null;
        });
    }

    /** Changes the virtual size; shrinking only when {@code allowShrink} (see {@link Qcow2Resizer}). */
    public void resizeSync(long newSize, boolean allowShrink) throws BlockDeviceException {
        resizer.resize(newSize, allowShrink);
    }

    /** Forgets every cluster of this layer, once a coalesce has put its data into the backing image. */
    public void emptyLayer() throws BlockDeviceException {
        resizer.emptyLayer();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        ImageRequests.close(image, !image.readOnly, () -> {
            metadata.flush();
            space.trim();
        });
    }
}
