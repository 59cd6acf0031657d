package io.tapdisk4j.image;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.Extent;

import java.util.ArrayList;
import java.util.List;

/**
 * The allocation map of an image layer, as NBD block status and thin copies want it: the layer's own runs
 * are data, zero runs read as zeroes, and the rest comes from the backing image (or is a hole).
 */
public final class LayerExtents {

    private LayerExtents() {
    }

    /** {@code withBacking} false: only this layer's own allocation (what a coalesce or a layer copy reads). */
    public static List<Extent> of(LayerMap map, BackingLayer below, long offset, long length, boolean withBacking)
            throws BlockDeviceException {
        List<Extent> out = new ArrayList<>();
        if (length == 0) {
            return out;
        }
        map.walk(offset, length, (at, bytes, fileAt) -> {
            if (fileAt >= 0 || fileAt == LayerMap.SPECIAL) {
                add(out, Extent.data(at, bytes));
            } else if (fileAt == LayerMap.ZERO) {
                // the layer itself says zeroes: allocated (it overrides the backing image), reads zero
                add(out, new Extent(at, bytes, false, true));
            } else {
                below.allocation(at, bytes, out, withBacking);
            }
        });
        return out;
    }

    /** Appends {@code e}, merging it into the last extent when they touch and agree. */
    public static void add(List<Extent> out, Extent e) {
        if (!out.isEmpty()) {
            Extent last = out.getLast();
            if (last.end() == e.offset() && last.hole() == e.hole() && last.zero() == e.zero()) {
                out.set(out.size() - 1, new Extent(last.offset(), last.length() + e.length(), e.hole(), e.zero()));
                return;
            }
        }
        out.add(e);
    }
}
