package io.tapdisk4j.qcow2;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.Buffers;

/**
 * Discard and write-zeroes on a qcow2 image, cluster by cluster: a whole cluster becomes unallocated (no
 * backing image, or a discard) or a zero cluster (which hides the backing image), and the cluster it held is
 * given back once that is durable ({@link Qcow2MetadataWriter}). With extended L2 entries, whole subclusters
 * of a cluster are marked zero. Partial pieces of write-zeroes are written as zeroes; partial pieces of a
 * discard are left as they are (a discard promises nothing about the contents).
 */
final class Qcow2Discarder {

    private final Qcow2Image image;
    private final Qcow2ClusterMap map;
    private final Qcow2Allocator allocator;
    private final Qcow2MetadataWriter metadata;

    Qcow2Discarder(Qcow2Image image, Qcow2ClusterMap map, Qcow2Allocator allocator, Qcow2MetadataWriter metadata) {
        this.image = image;
        this.map = map;
        this.allocator = allocator;
        this.metadata = metadata;
    }

    /** {@code zeroes}: the range must read zeroes afterwards (write-zeroes); else a discard. */
    void apply(long offset, long length, boolean zeroes) throws BlockDeviceException {
        int cs = image.clusterSize;
        long pos = offset;
        long end = offset + length;
        boolean hasBacking = image.below.device() != null;
        boolean v3 = image.header.version() >= 3;
        boolean changed = false;
        while (pos < end) {
            int in = (int) (pos & (cs - 1));
            int n = (int) Math.min(cs - in, end - pos);
            long at = pos;
            if (n == cs) {
                if (hasBacking && !v3) {
                    if (zeroes) {
                        writeZeroes(at, n);
                    } // a version 2 image cannot hide its backing file's data: a discard leaves it
                } else {
                    changed |= unmapCluster(at, hasBacking);
                }
            } else if (image.extendedL2 && !zeroes || image.extendedL2 && wholeSubclusters(in, n)) {
                changed |= zeroSubclusters(at, in, n, zeroes);
            } else if (zeroes) {
                writeZeroes(at, n);
            }
            pos += n;
        }
        if (changed) {
            metadata.flush();
        }
    }

    private boolean wholeSubclusters(int in, int n) {
        int sub = image.clusterSize / L2Entry.SUBCLUSTERS;
        return in % sub == 0 && n % sub == 0;
    }

    /** The cluster at {@code pos} reads zeroes from now on and holds no space. */
    private boolean unmapCluster(long pos, boolean hasBacking) throws BlockDeviceException {
        boolean[] changed = {false};
        allocator.holding(pos >>> image.clusterBits, () -> {
            Qcow2ClusterMap.Lookup l = map.lookup(pos);
            long want;
            long wantBitmap;
            if (image.extendedL2) {
                want = 0;
                wantBitmap = hasBacking ? 0xFFFF_FFFF_0000_0000L : 0;
            } else {
                want = hasBacking ? L2Entry.ZERO : 0;
                wantBitmap = 0;
            }
            if (l.entry() == want && l.bitmap() == wantBitmap) {
                return;
            }
            L2Table t = l.table() != null ? l.table() : hasBacking ? allocator.tableFor(pos) : null;
            if (t == null) {
                return; // no table: unallocated already, and nothing below
            }
            t.set(l.index(), want, wantBitmap);
            allocator.releaseOld(l.entry());
            changed[0] = true;
        });
        return changed[0];
    }

    /** Whole subclusters inside {@code [in, in + n)}: marked zero (write-zeroes) or unallocated. */
    private boolean zeroSubclusters(long pos, int in, int n, boolean zeroes) throws BlockDeviceException {
        int sub = image.clusterSize / L2Entry.SUBCLUSTERS;
        int first = (in + sub - 1) / sub;
        int last = (in + n) / sub; // exclusive
        if (last <= first) {
            if (zeroes) {
                writeZeroes(pos, n);
            }
            return false;
        }
        boolean hasBacking = image.below.device() != null;
        boolean[] changed = {false};
        allocator.holding(pos >>> image.clusterBits, () -> {
            Qcow2ClusterMap.Lookup l = map.lookup(pos);
            if (L2Entry.compressed(l.entry())) {
                return; // compressed clusters have no subclusters to clear
            }
            long bm = l.bitmap();
            long was = bm;
            for (int s = first; s < last; s++) {
                bm &= ~(1L << s);
                if (hasBacking || zeroes) {
                    bm |= 1L << (s + 32);
                }
            }
            if (bm == was) {
                return;
            }
            L2Table t = l.table() != null ? l.table() : allocator.tableFor(pos);
            t.set(l.index(), l.entry(), bm);
            changed[0] = true;
        });
        if (zeroes) {
            int head = first * sub - in;
            int tail = in + n - last * sub;
            if (head > 0) {
                writeZeroes(pos, head);
            }
            if (tail > 0) {
                writeZeroes(pos - in + (long) last * sub, tail);
            }
        }
        return changed[0];
    }

    private void writeZeroes(long pos, int n) throws BlockDeviceException {
        ByteBuf z = Buffers.zeroes(n);
        try {
            allocator.write(pos, z);
        } finally {
            z.release();
        }
    }
}
