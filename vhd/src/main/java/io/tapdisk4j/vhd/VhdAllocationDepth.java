package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockStatus;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.image.Io;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Which layer of a VHD chain holds each part of a range ({@code qemu:allocation-depth}): 1 for the image,
 * 2 for its parent, and so on; 0 where no layer holds data (reads as zeroes). A raw image at the bottom of a
 * chain counts as a layer where its allocation map says it holds data.
 */
final class VhdAllocationDepth {

    private VhdAllocationDepth() {
    }

    static CompletableFuture<List<BlockStatus>> of(VhdDevice image, long offset, long length) {
        return Io.async(image.describe(), () -> {
            List<BlockStatus> out = new ArrayList<>();
            if (length > 0) {
                depth(image, 1, offset, length, out);
            }
            return out;
        });
    }

    private static void depth(BlockDevice layer, int level, long offset, long length, List<BlockStatus> out)
            throws BlockDeviceException {
        if (offset >= layer.size()) {
            add(out, new BlockStatus(offset, length, 0)); // beyond a smaller parent: zeroes
            return;
        }
        long inLayer = Math.min(length, layer.size() - offset);
        List<Extent> own = layer instanceof VhdDevice v ? v.layerAllocation(offset, inLayer)
                : Io.join(layer.allocation(offset, inLayer));
        long pos = offset;
        for (Extent e : own) {
            if (e.offset() > pos) {
                below(layer, level, pos, e.offset() - pos, out);
            }
            if (e.hole()) {
                below(layer, level, e.offset(), e.length(), out);
            } else {
                add(out, new BlockStatus(e.offset(), e.length(), level));
            }
            pos = e.end();
        }
        if (pos < offset + inLayer) {
            below(layer, level, pos, offset + inLayer - pos, out);
        }
        if (inLayer < length) {
            add(out, new BlockStatus(offset + inLayer, length - inLayer, 0));
        }
    }

    private static void below(BlockDevice layer, int level, long offset, long length, List<BlockStatus> out)
            throws BlockDeviceException {
        BlockDevice parent = layer instanceof VhdDevice v ? v.parent() : null;
        if (parent == null) {
            add(out, new BlockStatus(offset, length, 0));
        } else {
            depth(parent, level + 1, offset, length, out);
        }
    }

    private static void add(List<BlockStatus> out, BlockStatus s) {
        if (!out.isEmpty()) {
            BlockStatus last = out.getLast();
            if (last.value() == s.value() && last.end() == s.offset()) {
                out.set(out.size() - 1, new BlockStatus(last.offset(), last.length() + s.length(), s.value()));
                return;
            }
        }
        out.add(s);
    }
}
