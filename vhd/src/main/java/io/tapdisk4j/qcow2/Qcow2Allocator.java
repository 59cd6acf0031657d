package io.tapdisk4j.qcow2;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.image.AllocationTable;
import io.tapdisk4j.image.Io;
import io.tapdisk4j.image.LayerReader;
import io.tapdisk4j.image.PendingAllocation;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The write path of a qcow2 image: writes into clusters it holds, and allocation on first write (and copy on
 * write of compressed or shared clusters). A new cluster is appended ({@link Qcow2Space}), its data written
 * (the parts the write does not cover filled from what the cluster read before: the backing image, zeroes or
 * the old compressed data), and only then is it published in its L2 table in memory; refcounts, L2 and L1
 * reach the file later, in that order, behind flushes ({@link Qcow2MetadataWriter}). Writers into a cluster
 * being allocated into fresh space with nothing to fill join the allocation instead of waiting for it.
 */
final class Qcow2Allocator {

    private final Qcow2Image image;
    private final Qcow2Tables tables;
    private final Qcow2ClusterMap map;
    private final Qcow2Space space;
    private final Qcow2Refcounts refs;
    private final Qcow2MetadataWriter metadata;
    private final AllocationTable allocating = new AllocationTable();

    Qcow2Allocator(Qcow2Image image, Qcow2Tables tables, Qcow2ClusterMap map, Qcow2Space space, Qcow2Refcounts refs,
                   Qcow2MetadataWriter metadata) {
        this.image = image;
        this.tables = tables;
        this.map = map;
        this.space = space;
        this.refs = refs;
        this.metadata = metadata;
    }

    /** Writes {@code data} (not taken over) at {@code offset}; the caller holds the structure lock shared. */
    void write(long offset, ByteBuf data) throws BlockDeviceException {
        int length = data.readableBytes();
        int cs = image.clusterSize;
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int in = (int) (pos & (cs - 1));
            long host = inPlaceHost(pos, (int) Math.min(cs - in, end - pos));
            if (host >= 0) {
                // allocated clusters contiguous in the file: one write straight to the file
                int n = (int) Math.min(cs - in, end - pos);
                while (pos + n < end) {
                    int k = (int) Math.min(cs, end - pos - n);
                    if (inPlaceHost(pos + n, k) != host + n) {
                        break;
                    }
                    n += k;
                }
                parts.add(image.transport.write(host,
                        data.retainedSlice(data.readerIndex() + (int) (pos - offset), n), false));
                pos += n;
                continue;
            }
            // a run of whole clusters none of which is allocated goes out as one allocation and one write
            int whole = in == 0 ? wholeUnallocated(pos, end) : 0;
            int n = whole > 0 ? (int) Math.min((long) whole * cs, end - pos) : (int) Math.min(cs - in, end - pos);
            ByteBuf slice = data.retainedSlice(data.readerIndex() + (int) (pos - offset), n);
            long at = pos;
            int clusters = whole;
            if (n == length) {
                inCluster(at, in, slice, clusters);
            } else {
                parts.add(Io.async(image.describe(), () -> {
                    inCluster(at, in, slice, clusters);
                    return null;
                }));
            }
            pos += n;
        }
        Io.joinAll(parts);
    }

    /** Where {@code n} bytes at {@code pos} (inside one cluster) can be written in place, or -1. */
    private long inPlaceHost(long pos, int n) throws BlockDeviceException {
        Qcow2ClusterMap.Lookup l = map.lookup(pos);
        long e = l.entry();
        if (!inPlace(e) || !image.extendedL2 && L2Entry.zeroFlag(e)
                || image.extendedL2 && !covered(l.bitmap(), (int) (pos & (image.clusterSize - 1)), n)) {
            return -1;
        }
        return L2Entry.offset(e) + (pos & (image.clusterSize - 1));
    }

    /** How many whole clusters from {@code pos} (before {@code end}) are unallocated and in one L2 table. */
    private int wholeUnallocated(long pos, long end) throws BlockDeviceException {
        int cs = image.clusterSize;
        int per = image.header.l2Entries();
        int n = 0;
        long p = pos;
        while (p + cs <= end && n < 256) {
            Qcow2ClusterMap.Lookup l = map.lookup(p);
            if (l.entry() != 0 || l.bitmap() != 0 || allocating.busy(p >>> image.clusterBits)) {
                break;
            }
            n++;
            p += cs;
            if ((p >>> image.clusterBits) % per == 0) {
                break;
            }
        }
        return n;
    }

    /** Whether a write into the cluster at {@code e} can go straight to its place in the file. */
    private static boolean inPlace(long e) {
        return !L2Entry.compressed(e) && L2Entry.offset(e) != 0 && (e & L2Entry.COPIED) != 0;
    }

    /** Writes {@code slice} at {@code pos} ({@code in} bytes into its cluster); takes over {@code slice}. */
    private void inCluster(long pos, int in, ByteBuf slice, int wholeClusters) throws BlockDeviceException {
        try {
            if (wholeClusters > 0 && allocateRun(pos, slice, wholeClusters)) {
                return;
            }
            if (wholeClusters > 1) {
                // someone else got there first: cluster by cluster
                for (int k = 0; k < wholeClusters; k++) {
                    int n = (int) Math.min(image.clusterSize, slice.readableBytes() - (long) k * image.clusterSize);
                    inCluster(pos + (long) k * image.clusterSize, 0,
                            slice.retainedSlice(slice.readerIndex() + k * image.clusterSize, n), 0);
                }
                return;
            }
            long cluster = pos >>> image.clusterBits;
            while (true) {
                Qcow2ClusterMap.Lookup l = map.lookup(pos);
                long e = l.entry();
                boolean standardZero = !image.extendedL2 && L2Entry.zeroFlag(e);
                if (inPlace(e) && !standardZero) {
                    if (!image.extendedL2 || covered(l.bitmap(), in, slice.readableBytes())) {
                        Io.join(image.transport.write(L2Entry.offset(e) + in, slice.retain(), false));
                        return;
                    }
                    if (fillSubclusters(pos, in, slice)) {
                        return;
                    }
                    continue;
                }
                PendingAllocation mine = new PendingAllocation((a, b) -> 0);
                PendingAllocation other = allocating.claim(cluster, mine);
                if (other != null) {
                    if (AllocationTable.join(other, 0, 0, image.transport, in, slice)) {
                        return;
                    }
                    continue;
                }
                boolean published = false;
                try {
                    Qcow2ClusterMap.Lookup now = map.lookup(pos);
                    if (now.entry() == e && now.bitmap() == l.bitmap()) {
                        allocate(pos, in, slice, now, mine);
                        published = true;
                        return;
                    }
                } finally {
                    allocating.release(cluster, mine, published);
                }
            }
        } finally {
            slice.release();
        }
    }

    /** True when every subcluster a write touches is allocated. */
    private boolean covered(long bitmap, int in, int n) {
        int sub = image.clusterSize / L2Entry.SUBCLUSTERS;
        for (int s = in / sub; s <= (in + n - 1) / sub; s++) {
            if (!L2Entry.subAllocated(bitmap, s)) {
                return false;
            }
        }
        return true;
    }

    /**
     * A write into an allocated cluster with extended L2 entries touching subclusters not yet allocated: the
     * parts of those subclusters the write does not cover are filled with what they read before, then their
     * bits are set. Serialised per cluster; false when the cluster changed meanwhile.
     */
    private boolean fillSubclusters(long pos, int in, ByteBuf slice) throws BlockDeviceException {
        long cluster = pos >>> image.clusterBits;
        PendingAllocation mine = allocating.claimWaiting(cluster);
        try {
            Qcow2ClusterMap.Lookup l = map.lookup(pos);
            if (!inPlace(l.entry())) {
                return false;
            }
            int sub = image.clusterSize / L2Entry.SUBCLUSTERS;
            int first = in / sub;
            int last = (in + slice.readableBytes() - 1) / sub;
            int from = first * sub;
            int to = (last + 1) * sub;
            long clusterStart = pos - in;
            ByteBuf whole = Buffers.direct(to - from);
            try {
                LayerReader.readInto(map, image.transport, image.below, map::readSpecial, clusterStart + from,
                        to - from, whole);
                whole.setBytes(in - from, slice, slice.readerIndex(), slice.readableBytes());
                Io.join(image.transport.write(L2Entry.offset(l.entry()) + from, whole.retain(), false));
            } finally {
                whole.release();
            }
            long bm = l.bitmap();
            for (int s = first; s <= last; s++) {
                bm |= 1L << s;
                bm &= ~(1L << (s + 32));
            }
            l.table().set(l.index(), l.entry(), bm);
            return true;
        } finally {
            allocating.release(cluster, mine, true);
        }
    }

    /** The L2 table for virtual offset {@code pos}, allocating an empty one when there is none. */
    private L2Table table(long pos) throws BlockDeviceException {
        long c = pos >>> image.clusterBits;
        int l1 = (int) (c / image.header.l2Entries());
        synchronized (tables) {
            L2Table t = tables.l2(l1);
            if (t == null) {
                t = tables.install(l1, space.allocate(1));
                metadata.allocated();
            }
            return t;
        }
    }

    /** Allocates the cluster at {@code pos} and writes {@code slice} into it (not taken over). */
    private void allocate(long pos, int in, ByteBuf slice, Qcow2ClusterMap.Lookup old, PendingAllocation pending)
            throws BlockDeviceException {
        BlockDevice transport = image.transport;
        int cs = image.clusterSize;
        L2Table t = table(pos);
        long host = space.allocate(1);
        long oldEntry = old.entry();
        boolean belowIsZero = image.below.device() == null || pos >= image.below.device().size();
        boolean fillZero = oldEntry == 0 && old.bitmap() == 0 && belowIsZero
                || !image.extendedL2 && L2Entry.zeroFlag(oldEntry) && !L2Entry.compressed(oldEntry);
        int len = slice.readableBytes();
        List<CompletableFuture<Void>> io = new ArrayList<>();
        if (fillZero) {
            if (space.fresh(host)) {
                pending.placed.complete(host);
            } else {
                pending.close();
                pending.placed.complete(-1L);
                if (in > 0) {
                    io.add(Io.zero(transport, host, in));
                }
                if (in + len < cs) {
                    io.add(Io.zero(transport, host + in + len, cs - in - len));
                }
            }
            io.add(transport.write(host + in, slice.retain(), false));
        } else {
            pending.close();
            pending.placed.complete(-1L);
            ByteBuf whole = Buffers.direct(cs);
            try {
                LayerReader.readInto(map, transport, image.below, map::readSpecial, pos - in, cs, whole);
                whole.setBytes(in, slice, slice.readerIndex(), len);
                io.add(transport.write(host, whole.retain(), false));
            } finally {
                whole.release();
            }
        }
        BlockDeviceException failure = null;
        try {
            Io.joinAll(io);
        } catch (BlockDeviceException e) {
            failure = e;
        }
        pending.closeAndAwaitJoined(); // each joined writer reports its own failure
        if (failure != null) {
            throw failure; // the cluster stays unreferenced: a leak, never a corruption
        }
        int index = (int) ((pos >>> image.clusterBits) % image.header.l2Entries());
        t.set(index, host | L2Entry.COPIED, image.extendedL2 ? L2Entry.ALL_ALLOCATED : 0);
        releaseOld(oldEntry);
        metadata.allocated();
    }

    /** A run of whole unallocated clusters: one allocation, one write. False when one is taken meanwhile. */
    private boolean allocateRun(long pos, ByteBuf slice, int clusters) throws BlockDeviceException {
        long first = pos >>> image.clusterBits;
        List<PendingAllocation> mine = new ArrayList<>();
        boolean ok = true;
        for (int k = 0; k < clusters && ok; k++) {
            PendingAllocation p = PendingAllocation.closedMarker();
            if (allocating.claim(first + k, p) == null) {
                mine.add(p);
            } else {
                ok = false;
            }
        }
        boolean published = false;
        try {
            if (!ok) {
                return false;
            }
            for (int k = 0; k < clusters; k++) {
                Qcow2ClusterMap.Lookup l = map.lookup(pos + ((long) k << image.clusterBits));
                if (l.entry() != 0 || l.bitmap() != 0) {
                    return false;
                }
            }
            boolean belowIsZero = image.below.device() == null || pos >= image.below.device().size();
            int len = slice.readableBytes();
            int cs = image.clusterSize;
            if (!belowIsZero && len % cs != 0) {
                return false; // the last cluster needs filling from below: the single-cluster path does it
            }
            L2Table t = table(pos);
            long host = space.allocate(clusters);
            List<CompletableFuture<Void>> io = new ArrayList<>();
            io.add(image.transport.write(host, slice.retain(), false));
            if (len % cs != 0 && !space.fresh(host)) {
                io.add(Io.zero(image.transport, host + len, cs - len % cs));
            }
            Io.joinAll(io);
            int index = (int) (first % image.header.l2Entries());
            for (int k = 0; k < clusters; k++) {
                t.set(index + k, (host + ((long) k << image.clusterBits)) | L2Entry.COPIED,
                        image.extendedL2 ? L2Entry.ALL_ALLOCATED : 0);
                metadata.allocated();
            }
            published = true;
            return true;
        } finally {
            for (int k = 0; k < mine.size(); k++) {
                allocating.release(first + k, mine.get(k), published);
            }
        }
    }

    /** Queues the refcount drop of the clusters an overwritten entry held (compressed or not copied). */
    void releaseOld(long e) {
        if (L2Entry.compressed(e)) {
            long off = L2Entry.compressedOffset(e, image.clusterBits);
            long len = L2Entry.compressedLength(e, image.clusterBits);
            long cs = image.clusterSize;
            for (long c = off / cs * cs; c < off + len; c += cs) {
                refs.release(c);
            }
        } else if (L2Entry.offset(e) != 0) {
            refs.release(L2Entry.offset(e));
        }
    }

    /** Holds a cluster against allocation while {@code body} changes its entry (discard, zeroes). */
    void holding(long cluster, AllocationTable.Body body) throws BlockDeviceException {
        allocating.holding(cluster, body);
    }

    L2Table tableFor(long pos) throws BlockDeviceException {
        return table(pos);
    }
}
