package io.tapdisk4j.app;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.block.SnapshotDiff;
import io.tapdisk4j.block.cbt.CbtLog;
import io.tapdisk4j.rbd.RbdUrl;

import java.io.IOException;
import java.util.BitSet;
import java.util.List;
import java.util.Objects;

/**
 * Changed blocks between two snapshots of one RBD image, from librbd's diff (whole objects from the object map
 * when fast-diff is valid, else exact) instead of a log of ours: Ceph already knows what changed.
 */
final class RbdSnapshotChanges {

    private RbdSnapshotChanges() {
    }

    /**
     * The 64 KiB blocks that differ between {@code base} (a snapshot of an RBD image) and {@code newer} (a later
     * snapshot of the same image, or the image itself); null when {@code base} is not an rbd:// URI.
     */
    static BitSet changed(BlockDevices devices, String base, String newer) throws IOException {
        DeviceUri b = DeviceUri.parse(base);
        if (!b.scheme().equals("rbd")) {
            return null;
        }
        DeviceUri n = DeviceUri.parse(newer);
        RbdUrl from = parse(b);
        RbdUrl to = n.scheme().equals("rbd") ? parse(n) : null;
        if (from.snapshot() == null || to == null || !from.pool().equals(to.pool())
                || !Objects.equals(from.namespace(), to.namespace()) || !Objects.equals(from.image(), to.image())) {
            throw new BlockDeviceException(BlockError.EINVAL, "BASE must be a snapshot of NEW's RBD image: "
                    + from.describe() + " and " + (to == null ? newer : to.describe()));
        }
        try (BlockDevice d = devices.open(n, OpenOptions.readOnlyOptions())) {
            if (!(d instanceof SnapshotDiff diff)) {
                throw new BlockDeviceException(BlockError.ENOTSUP, to.describe() + " cannot report changes since a snapshot");
            }
            return blocks(VdiBackup.join(diff.changedSince(from.snapshot())));
        }
    }

    /** Every 64 KiB block an extent touches (written or discarded since: both changed what the block reads). */
    static BitSet blocks(List<Extent> changed) {
        BitSet bits = new BitSet();
        for (Extent e : changed) {
            if (e.length() > 0) {
                bits.set(Math.toIntExact(e.offset() / CbtLog.BLOCK_SIZE),
                        Math.toIntExact((e.end() + CbtLog.BLOCK_SIZE - 1) / CbtLog.BLOCK_SIZE));
            }
        }
        return bits;
    }

    private static RbdUrl parse(DeviceUri uri) throws BlockDeviceException {
        try {
            return RbdUrl.parse(uri);
        } catch (IllegalArgumentException e) {
            throw new BlockDeviceException(BlockError.EINVAL, e.getMessage());
        }
    }
}
