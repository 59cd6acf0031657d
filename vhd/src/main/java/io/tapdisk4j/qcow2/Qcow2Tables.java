package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.image.Io;
import io.tapdisk4j.image.MetadataBarrier;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The L1 table and a cache of L2 tables. An L2 table is read on first use and checked (every entry must
 * point to a cluster inside the file, never into metadata); clean tables beyond {@value #CACHE_TABLES} are
 * dropped, least recently used first. New tables are allocated by the {@link Qcow2Allocator} and written by
 * the {@link Qcow2MetadataWriter} before the L1 entry that points to them. Guarded by this object's monitor.
 */
final class Qcow2Tables {

    static final int CACHE_TABLES = 512;

    private final Qcow2Image image;
    private long[] l1;
    private final BitSet dirtyL1 = new BitSet();
    private final LinkedHashMap<Integer, L2Table> cache = new LinkedHashMap<>(64, 0.75f, true);

    Qcow2Tables(Qcow2Image image, long[] l1) {
        this.image = image;
        this.l1 = l1;
    }

    static long[] parseL1(byte[] raw, int entries) {
        long[] t = new long[entries];
        ByteBuffer b = ByteBuffer.wrap(raw);
        for (int i = 0; i < entries; i++) {
            t[i] = b.getLong(i * 8);
        }
        return t;
    }

    synchronized int l1Size() {
        return l1.length;
    }

    synchronized long l1Entry(int i) {
        return l1[i];
    }

    synchronized long[] l1Snapshot() {
        return l1.clone();
    }

    /** The L2 table of L1 entry {@code i} if it is in the cache (never reads the file), else null. */
    synchronized L2Table cached(int i) {
        return cache.get(i);
    }

    /** The L2 table of L1 entry {@code i}, or null when there is none. */
    synchronized L2Table l2(int i) throws BlockDeviceException {
        if (i >= l1.length) {
            return null;
        }
        L2Table t = cache.get(i);
        if (t != null) {
            return t;
        }
        long off = L2Entry.offset(l1[i]);
        if (off == 0) {
            return null;
        }
        image.checkMetadataPointer(off, "L2 table " + i);
        t = L2Table.parse(off, Io.read(image.transport, off, image.clusterSize), image.extendedL2);
        for (int k = 0; k < t.entries(); k++) {
            long e = t.entry(k);
            if (!L2Entry.compressed(e) && L2Entry.offset(e) != 0) {
                image.checkDataPointer(L2Entry.offset(e), "L2 table " + i + " entry " + k);
            } else if (L2Entry.compressed(e)) {
                long at = L2Entry.compressedOffset(e, image.clusterBits);
                if (at < image.clusterSize || at >= image.transport.size()) {
                    throw image.corrupt("compressed cluster in L2 table " + i + " entry " + k + " at " + at
                            + " lies outside the file");
                }
            }
        }
        cache.put(i, t);
        evictClean();
        return t;
    }

    /** Installs a new, empty L2 table at {@code offset} for L1 entry {@code i}. */
    synchronized L2Table install(int i, long offset) {
        L2Table t = L2Table.fresh(offset, image.clusterSize, image.extendedL2);
        cache.put(i, t);
        l1[i] = offset | L2Entry.COPIED;
        dirtyL1.set(i * 8 / 512);
        return t;
    }

    private void evictClean() {
        if (cache.size() <= CACHE_TABLES) {
            return;
        }
        Iterator<Map.Entry<Integer, L2Table>> it = cache.entrySet().iterator();
        while (cache.size() > CACHE_TABLES && it.hasNext()) {
            if (!it.next().getValue().dirty()) {
                it.remove();
            }
        }
    }

    /** Dirty L2 sectors, clearing their marks. */
    synchronized List<MetadataBarrier.Write> takeDirtyL2() {
        List<MetadataBarrier.Write> out = new ArrayList<>();
        for (L2Table t : cache.values()) {
            out.addAll(t.takeDirty());
        }
        return out;
    }

    /** Dirty L1 sectors at {@code l1Offset}, clearing their marks. */
    synchronized List<MetadataBarrier.Write> takeDirtyL1(long l1Offset) {
        List<MetadataBarrier.Write> out = new ArrayList<>();
        for (int s = dirtyL1.nextSetBit(0); s >= 0; s = dirtyL1.nextSetBit(s + 1)) {
            int end = dirtyL1.nextClearBit(s);
            ByteBuffer b = ByteBuffer.allocate((end - s) * 512);
            for (int k = s * 64; k < end * 64; k++) {
                b.putLong(k < l1.length ? l1[k] : 0);
            }
            // whole sectors (a LUN takes nothing else): the L1 table owns whole clusters, zeroes past its end
            out.add(new MetadataBarrier.Write(l1Offset + (long) s * 512, b.array()));
            s = end;
        }
        dirtyL1.clear();
        return out;
    }

    /** After a failed write-back: everything in memory goes out again next time. */
    synchronized void markAllDirty() {
        dirtyL1.set(0, (l1.length * 8 + 511) / 512);
        for (L2Table t : cache.values()) {
            t.markAllDirty();
        }
    }

    /** A larger L1 table (resize); the caller writes it and the header. */
    synchronized void growL1(int entries) {
        l1 = java.util.Arrays.copyOf(l1, entries);
    }

    synchronized byte[] encodeL1(int clusters) {
        ByteBuffer b = ByteBuffer.allocate(clusters * image.clusterSize);
        for (long e : l1) {
            b.putLong(e);
        }
        return b.array();
    }

    /** Forgets cached tables (after a shrink dropped entries). */
    synchronized void clearL1(int from) {
        for (int i = from; i < l1.length; i++) {
            l1[i] = 0;
            cache.remove(i);
        }
        dirtyL1.set(from * 8 / 512, (l1.length * 8 + 511) / 512);
    }
}
