package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.image.Io;
import io.tapdisk4j.image.MetadataBarrier;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Refcounts: the refcount table and the refcount blocks it points to, loaded on first use and kept, and the
 * allocation of new clusters. Clusters are only ever appended at the end of the file (freed ones are punched,
 * not reused), so a cluster being written can never be one another request still reads. New refcount blocks
 * and a grown refcount table are allocated the same way and described by themselves. Changes are made in
 * memory; {@link Qcow2MetadataWriter} writes them out in crash order. Guarded by this object's monitor.
 */
final class Qcow2Refcounts {

    private final Qcow2Image image;
    private final int clusterBits;
    private final int bits;
    private final long perBlock;
    private long[] table;
    private final BitSet dirtyTableSectors = new BitSet();
    private final Map<Long, byte[]> blocks = new HashMap<>();
    private final Map<Long, BitSet> dirtyBlocks = new HashMap<>();
    private final List<Long> releases = new ArrayList<>();
    /** Set after the table moved: where it was (clusters to free once the header names the new place). */
    private long[] movedFrom;
    private long nextFree;

    Qcow2Refcounts(Qcow2Image image, long[] table) {
        this.image = image;
        this.clusterBits = image.header.clusterBits();
        this.bits = image.header.refcountBits();
        this.perBlock = image.header.refblockEntries();
        this.table = table;
    }

    static long[] parseTable(byte[] raw) {
        long[] t = new long[raw.length / 8];
        ByteBuffer b = ByteBuffer.wrap(raw);
        for (int i = 0; i < t.length; i++) {
            t[i] = b.getLong(i * 8);
        }
        return t;
    }

    synchronized long nextFree() {
        return nextFree;
    }

    synchronized void setNextFree(long cluster) {
        nextFree = cluster;
    }

    synchronized long[] tableSnapshot() {
        return table.clone();
    }

    /** The refcount of a cluster (0 where no refcount block covers it). */
    synchronized long get(long cluster) throws BlockDeviceException {
        long idx = cluster / perBlock;
        if (idx >= table.length || (table[(int) idx] & L2Entry.OFFSET_MASK) == 0) {
            return 0;
        }
        return read(block(idx), cluster % perBlock);
    }

    private long read(byte[] b, long i) {
        if (bits == 64) {
            return ByteBuffer.wrap(b).getLong((int) (i * 8));
        }
        if (bits >= 8) {
            int bytes = bits / 8;
            long v = 0;
            for (int k = 0; k < bytes; k++) {
                v = (v << 8) | (b[(int) (i * bytes) + k] & 0xFF);
            }
            return v;
        }
        int perByte = 8 / bits;
        int shift = (int) (i % perByte) * bits; // sub-byte refcounts: the first entry in the low bits
        return (b[(int) (i / perByte)] >>> shift) & ((1 << bits) - 1);
    }

    private void write(byte[] b, long i, long v) {
        if (bits >= 8) {
            int bytes = bits / 8;
            for (int k = bytes - 1; k >= 0; k--) {
                b[(int) (i * bytes) + k] = (byte) v;
                v >>>= 8;
            }
            return;
        }
        int perByte = 8 / bits;
        int shift = (int) (i % perByte) * bits;
        int mask = ((1 << bits) - 1) << shift;
        int at = (int) (i / perByte);
        b[at] = (byte) ((b[at] & ~mask) | ((int) v << shift & mask));
    }

    private byte[] block(long idx) throws BlockDeviceException {
        byte[] b = blocks.get(idx);
        if (b == null) {
            long off = table[(int) idx] & L2Entry.OFFSET_MASK;
            image.checkMetadataPointer(off, "refcount block " + idx);
            b = Io.read(image.transport, off, image.clusterSize);
            blocks.put(idx, b);
        }
        return b;
    }

    /** Sets a cluster's refcount, creating the refcount block (and growing the table) when needed. */
    synchronized void set(long cluster, long value) throws BlockDeviceException {
        if (value < 0 || (bits < 64 && value >= 1L << bits)) {
            throw new BlockDeviceException(BlockError.EIO, image.describe() + ": refcount of cluster " + cluster
                    + " would overflow " + bits + " bits");
        }
        long idx = cluster / perBlock;
        if (idx >= table.length) {
            growTable(idx + 1);
        }
        if ((table[(int) idx] & L2Entry.OFFSET_MASK) == 0) {
            long at = nextFree++;
            table[(int) idx] = at << clusterBits;
            dirtyTableSectors.set((int) (idx * 8 / 512));
            blocks.put(idx, new byte[image.clusterSize]);
            dirtyBlocks.computeIfAbsent(idx, k -> new BitSet()).set(0, image.clusterSize / 512);
            set(at, 1); // the new block's own refcount: in itself, or in the next block
        }
        byte[] b = block(idx);
        long i = cluster % perBlock;
        write(b, i, value);
        int byteAt = (int) (i * bits / 8);
        dirtyBlocks.computeIfAbsent(idx, k -> new BitSet()).set(byteAt / 512);
    }

    /** Appends {@code n} contiguous clusters with refcount 1; returns the first one's byte offset. */
    synchronized long allocate(int n) throws BlockDeviceException {
        long first = nextFree;
        nextFree += n;
        for (long c = first; c < first + n; c++) {
            set(c, 1);
        }
        return first << clusterBits;
    }

    /** A cluster no longer referenced, once that is durable: its refcount drops at a later write-back. */
    synchronized void release(long byteOffset) {
        releases.add(byteOffset >>> clusterBits);
    }

    /** The releases queued so far, taken before the L2/L1 changes that unreference them are written. */
    synchronized List<Long> takeReleases() {
        List<Long> out = new ArrayList<>(releases);
        releases.clear();
        return out;
    }

    /** Puts releases back after a failed write-back. */
    synchronized void requeue(List<Long> clusters) {
        releases.addAll(clusters);
    }

    /** Drops the refcounts of released clusters; returns the byte offsets of those now free. */
    synchronized List<Long> apply(List<Long> clusters) throws BlockDeviceException {
        List<Long> free = new ArrayList<>();
        for (long c : clusters) {
            long v = get(c);
            if (v > 0) {
                set(c, v - 1);
                if (v == 1) {
                    free.add(c << clusterBits);
                }
            }
        }
        return free;
    }

    synchronized boolean hasReleases() {
        return !releases.isEmpty();
    }

    private void growTable(long entries) throws BlockDeviceException {
        long want = Math.max(entries, (long) table.length * 2);
        long clusters = (want * 8 + image.clusterSize - 1) >>> clusterBits;
        if (clusters << clusterBits > Qcow2Header.MAX_REFTABLE_BYTES) {
            throw new BlockDeviceException(BlockError.EFBIG, image.describe() + ": refcount table would exceed "
                    + (Qcow2Header.MAX_REFTABLE_BYTES >> 20) + " MiB");
        }
        long[] old = table;
        if (movedFrom == null) {
            movedFrom = new long[]{image.header.refcountTableOffset(), image.header.refcountTableClusters()};
        } else {
            // grown twice before a write-back: the intermediate table was never written; free it at once
            for (long c = 0; c < image.pendingReftableClusters; c++) {
                releases.add((image.pendingReftableOffset >>> clusterBits) + c);
            }
        }
        table = java.util.Arrays.copyOf(old, (int) (clusters << clusterBits) / 8);
        long at = nextFree;
        nextFree += clusters;
        image.pendingReftableOffset = at << clusterBits;
        image.pendingReftableClusters = (int) clusters;
        for (long c = at; c < at + clusters; c++) {
            set(c, 1);
        }
    }

    /** The dirty refcount blocks' sectors, clearing the marks. */
    synchronized List<MetadataBarrier.Write> takeDirtyBlocks() {
        List<MetadataBarrier.Write> out = new ArrayList<>();
        for (Map.Entry<Long, BitSet> e : dirtyBlocks.entrySet()) {
            long off = table[(int) (long) e.getKey()] & L2Entry.OFFSET_MASK;
            byte[] b = blocks.get(e.getKey());
            BitSet d = e.getValue();
            for (int s = d.nextSetBit(0); s >= 0; s = d.nextSetBit(s + 1)) {
                int end = d.nextClearBit(s);
                out.add(new MetadataBarrier.Write(off + (long) s * 512,
                        java.util.Arrays.copyOfRange(b, s * 512, end * 512)));
                s = end;
            }
        }
        dirtyBlocks.clear();
        return out;
    }

    /**
     * The dirty refcount table sectors, clearing the marks; after a move, the whole new table. The second
     * element, when not null, is the old table's place {offset, clusters}, to free once the header is written.
     */
    synchronized TableWrites takeDirtyTable() {
        List<MetadataBarrier.Write> out = new ArrayList<>();
        long[] moved = movedFrom;
        long base = moved != null ? image.pendingReftableOffset : image.header.refcountTableOffset();
        if (moved != null) {
            dirtyTableSectors.set(0, table.length * 8 / 512);
        }
        for (int s = dirtyTableSectors.nextSetBit(0); s >= 0; s = dirtyTableSectors.nextSetBit(s + 1)) {
            int end = dirtyTableSectors.nextClearBit(s);
            ByteBuffer b = ByteBuffer.allocate((end - s) * 512);
            for (int k = s * 64; k < end * 64; k++) {
                b.putLong(k < table.length ? table[k] : 0);
            }
            out.add(new MetadataBarrier.Write(base + (long) s * 512, b.array()));
            s = end;
        }
        dirtyTableSectors.clear();
        movedFrom = null;
        return new TableWrites(out, moved);
    }

    record TableWrites(List<MetadataBarrier.Write> writes, long[] movedFrom) {
    }

    /** Puts failed writes' marks back (the next write-back tries again). */
    synchronized void markAllDirty() {
        for (Long idx : blocks.keySet()) {
            dirtyBlocks.computeIfAbsent(idx, k -> new BitSet()).set(0, image.clusterSize / 512);
        }
        dirtyTableSectors.set(0, table.length * 8 / 512);
    }

    synchronized int tableLength() {
        return table.length;
    }

    synchronized long blockOffset(int idx) {
        return idx < table.length ? table[idx] & L2Entry.OFFSET_MASK : 0;
    }

    long perBlock() {
        return perBlock;
    }
}
