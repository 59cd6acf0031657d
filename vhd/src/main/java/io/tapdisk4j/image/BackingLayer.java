package io.tapdisk4j.image;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * What lies under an image layer: its opened backing image (a VHD parent, a qcow2 backing file) or nothing.
 * Beyond the end of a smaller backing image, and without one, the disk reads zeroes.
 */
public final class BackingLayer {

    private final BlockDevice device;
    private final DeviceUri uri;

    public BackingLayer(BlockDevice device, DeviceUri uri) {
        this.device = device;
        this.uri = uri;
    }

    public static BackingLayer none() {
        return new BackingLayer(null, null);
    }

    /** The backing image, or null. */
    public BlockDevice device() {
        return device;
    }

    public DeviceUri uri() {
        return uri;
    }

    /** The backing image's data at a range, zero-filled beyond its end; the caller releases the buffer. */
    public CompletableFuture<ByteBuf> read(long pos, int n) {
        if (device == null || pos >= device.size()) {
            return CompletableFuture.completedFuture(Buffers.zeroes(n));
        }
        if (pos + n <= device.size()) {
            return device.read(pos, n);
        }
        int inParent = (int) (device.size() - pos);
        return device.read(pos, inParent).thenApply(b -> {
            ByteBuf out = Buffers.direct(n);
            out.writeBytes(b, b.readerIndex(), inParent).writeZero(n - inParent);
            b.release();
            return out;
        });
    }

    /**
     * Appends the backing image's allocation over a range to {@code out} ({@code withBacking} false: a hole,
     * as when a single layer's own allocation is wanted).
     */
    public void allocation(long pos, long n, List<Extent> out, boolean withBacking) throws BlockDeviceException {
        if (!withBacking || device == null || pos >= device.size()) {
            LayerExtents.add(out, Extent.hole(pos, n));
            return;
        }
        long inParent = Math.min(n, device.size() - pos);
        long p = pos;
        while (p < pos + inParent) {
            List<Extent> got = Io.join(device.allocation(p, pos + inParent - p));
            if (got.isEmpty()) {
                LayerExtents.add(out, Extent.data(p, pos + inParent - p));
                break;
            }
            for (Extent e : got) {
                LayerExtents.add(out, e);
                p = e.end();
            }
        }
        if (inParent < n) {
            LayerExtents.add(out, Extent.hole(pos + inParent, n - inParent));
        }
    }

    public void close() {
        if (device != null) {
            device.close();
        }
    }
}
