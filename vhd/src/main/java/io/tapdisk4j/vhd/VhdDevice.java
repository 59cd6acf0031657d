package io.tapdisk4j.vhd;

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
import io.tapdisk4j.image.BackingLayer;
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
 * A VHD image (fixed, dynamic or differencing) presented as a {@link BlockDevice} over any transport. A fixed
 * disk passes requests through; a sparse one is served by its pieces:
 * <ul>
 *   <li>{@link VhdBlockMap} walks a range through the BAT and the {@link VhdBitmapCache sector bitmaps};</li>
 *   <li>{@link VhdAllocator} writes, allocating blocks on first write in space {@link VhdSpace} reserves;</li>
 *   <li>{@link VhdMetadataWriter} writes the BAT and bitmaps back behind a flush of the data they describe, so
 *       a crash at any point leaves a valid image with every write completed before a flush present;</li>
 *   <li>{@link VhdDiscarder} gives blocks back and zeroes; {@link VhdResizer} grows, shrinks and empties.</li>
 * </ul>
 * Requests run on virtual threads ({@link Io#async}).
 */
public final class VhdDevice implements ImageLayer {

    private final VhdImage image;
    private final VhdBlockMap map;
    private final VhdSpace space;
    private final VhdMetadataWriter metadata;
    private final VhdAllocator allocator;
    private final VhdDiscarder discarder;
    private final VhdResizer resizer;
    private volatile boolean closed;

    VhdDevice(BlockDevice transport, DeviceUri uri, boolean readOnly, VhdFooter footer, VhdDynamicHeader header,
              BlockAllocationTable bat, BlockDevice parent, DeviceUri parentUri, long nextFree, long metadataEnd) {
        this.image = new VhdImage(transport, uri, readOnly, footer, header, bat,
                new BackingLayer(parent, parentUri), metadataEnd);
        VhdBitmapCache bitmaps = new VhdBitmapCache(image);
        this.map = new VhdBlockMap(image, bitmaps);
        this.space = new VhdSpace(image, nextFree);
        this.metadata = new VhdMetadataWriter(image, bitmaps);
        this.allocator = new VhdAllocator(image, bitmaps, map, space, metadata);
        this.discarder = new VhdDiscarder(image, bitmaps, map, allocator, metadata);
        this.resizer = new VhdResizer(image, bitmaps, space, allocator, metadata);
    }

    public VhdFooter footer() {
        return image.footer;
    }

    /** The dynamic header, or null for a fixed disk. */
    public VhdDynamicHeader header() {
        return image.header;
    }

    public DiskType diskType() {
        return image.diskType();
    }

    /** The opened parent (read-only), or null. */
    public BlockDevice parent() {
        return image.below.device();
    }

    @Override
    public BlockDevice backing() {
        return parent();
    }

    public DeviceUri parentUri() {
        return image.below.uri();
    }

    public DeviceUri uri() {
        return image.uri;
    }

    public BlockDevice transport() {
        return image.transport;
    }

    public int blockSize() {
        return image.blockSize;
    }

    /** Blocks allocated in this image (not its parents). */
    public int allocatedBlocks() {
        return image.bat == null ? 0 : image.bat.allocatedCount();
    }

    /** Where the next block would go: the end of the data (and the footer's place in an exactly sized file). */
    public long endOfData() {
        return space.nextFree();
    }

    long metadataEnd() {
        return image.metadataEnd;
    }

    @Override
    public long size() {
        return image.size();
    }

    @Override
    public Set<Capability> capabilities() {
        BlockDevice transport = image.transport;
        EnumSet<Capability> c = EnumSet.of(Capability.FLUSH, Capability.FUA, Capability.WRITE_ZEROES,
                Capability.ALLOCATION);
        if (diskType() == DiskType.DYNAMIC || (diskType() == DiskType.FIXED && transport.has(Capability.DISCARD))) {
            c.add(Capability.DISCARD);
        }
        if (transport.has(Capability.RESIZE) || diskType() != DiskType.FIXED) {
            c.add(Capability.RESIZE);
        }
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
        BlockDeviceException bad = Requests.checkRange(offset, length, size());
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        if (closed) {
            return Requests.failed(BlockError.ESHUTDOWN, describe() + " is closed");
        }
        if (diskType() == DiskType.FIXED) {
            return image.transport.read(offset, length);
        }
        return ImageRequests.read(image, map, null, offset, length);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        BlockDeviceException bad = checkWritable(offset, data.readableBytes());
        if (bad != null) {
            data.release();
            return CompletableFuture.failedFuture(bad);
        }
        if (diskType() == DiskType.FIXED) {
            return image.transport.write(offset, data, fua);
        }
        return ImageRequests.write(image, allocator::write, metadata, offset, data, fua);
    }

    @Override
    public CompletableFuture<Void> flush() {
        if (image.readOnly || diskType() == DiskType.FIXED) {
            return image.readOnly ? CompletableFuture.completedFuture(null) : image.transport.flush();
        }
        return ImageRequests.flush(image, metadata);
    }

    /** Writes dirty BAT sectors and bitmaps behind a flush of the data they describe. */
    void writeBack() throws BlockDeviceException {
        metadata.writeBack();
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
        return switch (diskType()) {
            case FIXED -> image.transport.has(Capability.DISCARD) ? image.transport.discard(offset, length, false)
                    : CompletableFuture.completedFuture(null);
            case DYNAMIC -> Io.async(describe(), () -> {
                discarder.discardDynamic(offset, length);
                return null;
            });
            // A clear bit in a differencing disk means "read the parent": clearing bits would bring back the
            // parent's older data, not zeroes, so discard leaves a differencing disk as it is.
            case DIFFERENCING -> CompletableFuture.completedFuture(null);
        };
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        BlockDeviceException bad = checkWritable(offset, length);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        if (diskType() == DiskType.FIXED) {
            return Io.zero(image.transport, offset, length);
        }
        return Io.async(describe(), () -> {
            discarder.writeZeroes(offset, length, mayUnmap);
            return null;
        });
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
        if (length == 0) {
            return CompletableFuture.completedFuture(List.of());
        }
        if (diskType() == DiskType.FIXED) {
            return image.transport.allocation(offset, length);
        }
        return Io.async(describe(), () -> LayerExtents.of(map, image.below, offset, length, true));
    }

    @Override
    public CompletableFuture<List<io.tapdisk4j.block.BlockStatus>> allocationDepth(long offset, long length) {
        return AllocationDepth.of(this, offset, length);
    }

    /**
     * This image's own allocation (sectors it holds, not its parents'): data extents, and holes for the rest.
     * What a coalesce or a copy of one layer reads.
     */
    @Override
    public List<Extent> layerAllocation(long offset, long length) throws BlockDeviceException {
        BlockDeviceException bad = Requests.checkRange(offset, length, size());
        if (bad != null) {
            throw bad;
        }
        if (length > 0 && diskType() == DiskType.FIXED) {
            return List.of(Extent.data(offset, length));
        }
        return LayerExtents.of(map, image.below, offset, length, false);
    }

    @Override
    public CompletableFuture<Void> resize(long newSize) {
        if (image.readOnly) {
            return Requests.failed(BlockError.EROFS, describe() + " is read-only");
        }
        return Io.async(describe(), () -> {
            resizeSync(newSize);
            return null;
        });
    }

    /** Grows the virtual disk; shrinking is refused (see {@link #resizeSync(long, boolean)}). */
    void resizeSync(long newSize) throws BlockDeviceException {
        resizer.resize(newSize, false);
    }

    /** Changes the virtual size; shrinking only when {@code allowShrink} (see {@link VhdResizer#resize}). */
    void resizeSync(long newSize, boolean allowShrink) throws BlockDeviceException {
        resizer.resize(newSize, allowShrink);
    }

    /** Forgets every block of this layer, once a coalesce has put its data into the parent. */
    void emptyLayer() throws BlockDeviceException {
        resizer.emptyLayer();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        ImageRequests.close(image, !image.readOnly && diskType() != DiskType.FIXED, () -> {
            metadata.writeBack();
            space.trim();
        });
    }
}
