package io.tapdisk4j.image;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockStatus;
import io.tapdisk4j.block.Extent;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Which layer of an image chain holds each part of a range ({@code qemu:allocation-depth}): 1 for the top
 * image, 2 for the image below it, and so on; 0 where no layer holds data (reads as zeroes). Any mix of
 * formats: every {@link ImageLayer} answers for itself and hands its holes down. As QEMU counts: a device
 * that is not an image (a raw file or LUN at the bottom) holds its whole size, and an image shorter than the
 * one above it holds the zeroes beyond its end.
 */
public final class AllocationDepth {

    private AllocationDepth() {
    }

    public static CompletableFuture<List<BlockStatus>> of(ImageLayer top, long offset, long length) {
        return Io.async(top.describe(), () -> {
            List<BlockStatus> out = new ArrayList<>();
            if (length > 0) {
                depth(top, 1, offset, length, out);
            }
            return out;
        });
    }

    private static void depth(BlockDevice layer, int level, long offset, long length, List<BlockStatus> out)
            throws BlockDeviceException {
        if (offset >= layer.size()) {
            add(out, new BlockStatus(offset, length, level)); // beyond a shorter image: its zeroes, as QEMU counts
            return;
        }
        long inLayer = Math.min(length, layer.size() - offset);
        if (!(layer instanceof ImageLayer image)) {
            add(out, new BlockStatus(offset, inLayer, level));
        } else {
            long pos = offset;
            for (Extent e : image.layerAllocation(offset, inLayer)) {
                if (e.offset() > pos) {
                    below(image, level, pos, e.offset() - pos, out);
                }
                if (e.hole()) {
                    below(image, level, e.offset(), e.length(), out);
                } else {
                    add(out, new BlockStatus(e.offset(), e.length(), level));
                }
                pos = e.end();
            }
            if (pos < offset + inLayer) {
                below(image, level, pos, offset + inLayer - pos, out);
            }
        }
        if (inLayer < length) {
            add(out, new BlockStatus(offset + inLayer, length - inLayer, level));
        }
    }

    private static void below(ImageLayer layer, int level, long offset, long length, List<BlockStatus> out)
            throws BlockDeviceException {
        BlockDevice backing = layer.backing();
        if (backing == null) {
            add(out, new BlockStatus(offset, length, 0));
        } else {
            depth(backing, level + 1, offset, length, out);
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
