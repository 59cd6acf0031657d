package io.tapdisk4j.nbd.server;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockStatus;
import io.tapdisk4j.block.DirtyBitmap;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.nbd.NbdProtocol;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The meta contexts an export offers and what each says about a range, as (length, flags) runs:
 * {@code base:allocation} (hole/zero flags), {@code qemu:allocation-depth} (the layer of an image chain
 * holding the data, 0 for none) and {@code qemu:dirty-bitmap:NAME} (1 for a changed block) for each
 * bitmap the device keeps, as qemu-nbd offers them.
 */
final class NbdMetaContexts {

    static final String ALLOCATION_DEPTH = "qemu:allocation-depth";
    static final String DIRTY_BITMAP = "qemu:dirty-bitmap:";

    private NbdMetaContexts() {
    }

    /** Every context {@code export} offers, in a fixed order. */
    static List<String> offered(NbdExport export) {
        List<String> out = new ArrayList<>();
        out.add(NbdProtocol.BASE_ALLOCATION);
        out.add(ALLOCATION_DEPTH);
        for (DirtyBitmap b : export.device().dirtyBitmaps()) {
            out.add(DIRTY_BITMAP + b.name());
        }
        return out;
    }

    /**
     * The offered contexts that {@code queries} select. LIST also takes a namespace ({@code "qemu:"},
     * {@code "base:"}) or a namespace with an empty leaf ({@code "qemu:dirty-bitmap:"}) as a wildcard, and no
     * query at all as "everything"; SET takes exact names only (unknown ones are left out, as the spec says).
     */
    static List<String> select(List<String> offered, List<String> queries, boolean list) {
        if (list && queries.isEmpty()) {
            return offered;
        }
        List<String> out = new ArrayList<>();
        for (String q : queries) {
            for (String name : offered) {
                boolean match = name.equals(q)
                        || (list && (q.endsWith(":") && name.startsWith(q)));
                if (match && !out.contains(name)) {
                    out.add(name);
                }
            }
        }
        return out;
    }

    /** What context {@code name} says about {@code [offset, offset+length)}. */
    static CompletableFuture<List<BlockStatus>> status(BlockDevice device, String name, long offset, long length) {
        if (name.equals(NbdProtocol.BASE_ALLOCATION)) {
            return device.allocation(offset, length).thenApply(NbdMetaContexts::allocationRuns);
        }
        if (name.equals(ALLOCATION_DEPTH)) {
            return device.allocationDepth(offset, length);
        }
        for (DirtyBitmap b : device.dirtyBitmaps()) {
            if (name.equals(DIRTY_BITMAP + b.name())) {
                return b.statusAsync(offset, length);
            }
        }
        return CompletableFuture.failedFuture(new IllegalStateException("no meta context " + name));
    }

    private static List<BlockStatus> allocationRuns(List<Extent> extents) {
        List<BlockStatus> out = new ArrayList<>(extents.size());
        for (Extent e : extents) {
            out.add(new BlockStatus(e.offset(), e.length(),
                    (e.hole() ? NbdProtocol.STATE_HOLE : 0) | (e.zero() ? NbdProtocol.STATE_ZERO : 0)));
        }
        return out;
    }

    /**
     * Clips runs to the request, merges equal neighbours, keeps lengths within 32 bits and at most
     * {@code max} descriptors; only the contiguous prefix from {@code offset} is reported.
     */
    static List<BlockStatus> descriptors(List<BlockStatus> runs, long offset, long length, boolean one, int max) {
        List<BlockStatus> out = new ArrayList<>();
        long end = offset + length;
        long pos = offset;
        for (BlockStatus e : runs) {
            if (e.end() <= pos || pos >= end) {
                continue;
            }
            if (e.offset() > pos) {
                break;
            }
            long stop = Math.min(e.end(), end);
            BlockStatus last = out.isEmpty() ? null : out.getLast();
            if (last != null && last.value() == e.value() && stop - last.offset() <= 0xFFFF_F000L) {
                out.set(out.size() - 1, new BlockStatus(last.offset(), stop - last.offset(), e.value()));
            } else {
                long n = Math.min(stop - pos, 0xFFFF_F000L);
                out.add(new BlockStatus(pos, n, e.value()));
                stop = pos + n;
            }
            pos = stop;
            if ((one && !out.isEmpty()) || out.size() >= max) {
                break;
            }
        }
        if (one && out.size() > 1) {
            return List.of(out.getFirst());
        }
        return out;
    }
}
