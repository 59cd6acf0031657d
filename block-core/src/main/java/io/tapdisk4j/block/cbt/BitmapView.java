package io.tapdisk4j.block.cbt;

import io.netty.channel.FileRegion;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.DirtyBitmap;
import io.tapdisk4j.block.FileRegionReads;
import io.tapdisk4j.block.ForwardingBlockDevice;

import java.util.List;

/**
 * A device shown with a given changed-block bitmap in place of its own: an export of snapshot NEW that
 * offers the changes since BASE as {@code qemu:dirty-bitmap:cbt}, or a read-only export of a tracked VDI.
 */
public final class BitmapView extends ForwardingBlockDevice implements FileRegionReads {

    private final DirtyBitmap bitmap;

    public BitmapView(BlockDevice delegate, DirtyBitmap bitmap) {
        super(delegate);
        this.bitmap = bitmap;
    }

    @Override
    public List<DirtyBitmap> dirtyBitmaps() {
        return List.of(bitmap);
    }

    @Override
    public FileRegion readRegion(long offset, int length) {
        return delegate instanceof FileRegionReads r ? r.readRegion(offset, length) : null;
    }
}
