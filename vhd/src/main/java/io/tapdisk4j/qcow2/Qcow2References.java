package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;

/**
 * How often each cluster of an image is referenced by its metadata (header, L1, L2 tables, data clusters,
 * compressed data, refcount table and blocks): what its refcounts should say. Used to check an image and to
 * rebuild the refcounts of one left dirty by lazy refcounts.
 */
final class Qcow2References {

    /** A checker counts at most this many clusters (a 64 TiB file of 64 KiB clusters). */
    static final long MAX_CLUSTERS = 1L << 30;
    /** Counts are kept in pages allocated on first use, so memory follows the clusters really referenced. */
    private static final int PAGE_BITS = 16;

    private final int[][] pages;
    private final long clusters;
    /** References to a cluster that is also metadata, or to one beyond any sane end: overlap errors. */
    final java.util.List<String> overlaps = new java.util.ArrayList<>();

    private Qcow2References(long clusters) {
        this.clusters = clusters;
        this.pages = new int[(int) ((clusters + (1 << PAGE_BITS) - 1) >>> PAGE_BITS)][];
    }

    /** Clusters counted: from 0 to this (exclusive). */
    long clusters() {
        return clusters;
    }

    /** References to cluster {@code c}. */
    int count(long c) {
        int[] page = pages[(int) (c >>> PAGE_BITS)];
        return page == null ? 0 : page[(int) (c & ((1 << PAGE_BITS) - 1))];
    }

    /** Whether any cluster of the page holding {@code c} is referenced (pages never touched can be skipped). */
    boolean pageTouched(long c) {
        return pages[(int) (c >>> PAGE_BITS)] != null;
    }

    static Qcow2References count(Qcow2Device d) throws BlockDeviceException {
        Qcow2Header h = d.header();
        int bits = h.clusterBits();
        long cs = h.clusterSize();
        long end = Math.max(d.endOfData(), (d.transport().size() + cs - 1) / cs * cs) >>> bits;
        if (end > MAX_CLUSTERS) {
            throw new BlockDeviceException(BlockError.EFBIG, d.describe() + ": " + end + " clusters are too many to count");
        }
        Qcow2References r = new Qcow2References(end + 1);
        r.add(0, 1, "header");
        r.addBytes(h.l1TableOffset(), (long) h.l1Size() * 8, bits, "L1 table");
        r.addBytes(h.refcountTableOffset(), (long) h.refcountTableClusters() * cs, bits, "refcount table");
        Qcow2Tables tables = d.tables();
        for (int i = 0; i < tables.l1Size(); i++) {
            L2Table t = tables.l2(i);
            if (t == null) {
                continue;
            }
            r.add(t.offset >>> bits, 1, "L2 table " + i);
            for (int k = 0; k < t.entries(); k++) {
                long e = t.entry(k);
                if (L2Entry.compressed(e)) {
                    long off = L2Entry.compressedOffset(e, bits);
                    long len = L2Entry.compressedLength(e, bits);
                    for (long c = off >>> bits; c <= (off + len - 1) >>> bits; c++) {
                        r.add(c, 0, "compressed data");
                    }
                } else if (L2Entry.offset(e) != 0) {
                    r.add(L2Entry.offset(e) >>> bits, 1, "data cluster");
                }
            }
        }
        Qcow2Refcounts refs = d.refcounts();
        for (int i = 0; i < refs.tableLength(); i++) {
            long off = refs.blockOffset(i);
            if (off != 0) {
                r.add(off >>> bits, 1, "refcount block " + i);
            }
        }
        return r;
    }

    private void addBytes(long off, long len, int bits, String what) {
        for (long c = off >>> bits; c <= (off + len - 1) >>> bits; c++) {
            add(c, 1, what);
        }
    }

    /** {@code exclusive} 1: a cluster only one thing may use; 0: shared compressed data. */
    private void add(long c, int exclusive, String what) {
        if (c < 0 || c >= clusters) {
            overlaps.add(what + " at cluster " + c + " lies beyond the end of the file");
            return;
        }
        int[] page = pages[(int) (c >>> PAGE_BITS)];
        if (page == null) {
            page = new int[1 << PAGE_BITS];
            pages[(int) (c >>> PAGE_BITS)] = page;
        }
        int i = (int) (c & ((1 << PAGE_BITS) - 1));
        if (exclusive == 1 && page[i] > 0 && overlaps.size() < 100) {
            overlaps.add(what + " at cluster " + c + " overlaps another use of that cluster");
        }
        page[i]++;
    }
}
