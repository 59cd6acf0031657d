package io.tapdisk4j.qcow2;

import java.nio.ByteBuffer;
import java.util.BitSet;

/**
 * One L2 table in memory: its raw words (one per entry, two with extended L2), where it lives in the file,
 * and which of its 512-byte sectors changed since the last write-back. Guarded by its own monitor.
 */
final class L2Table {

    final long offset;
    private final long[] words;
    private final int stride;
    private final BitSet dirtySectors = new BitSet();

    L2Table(long offset, long[] words, boolean extended) {
        this.offset = offset;
        this.words = words;
        this.stride = extended ? 2 : 1;
    }

    static L2Table parse(long offset, byte[] raw, boolean extended) {
        long[] w = new long[raw.length / 8];
        ByteBuffer b = ByteBuffer.wrap(raw);
        for (int i = 0; i < w.length; i++) {
            w[i] = b.getLong(i * 8);
        }
        return new L2Table(offset, w, extended);
    }

    static L2Table fresh(long offset, int clusterSize, boolean extended) {
        L2Table t = new L2Table(offset, new long[clusterSize / 8], extended);
        t.dirtySectors.set(0, clusterSize / 512);
        return t;
    }

    int entries() {
        return words.length / stride;
    }

    synchronized long entry(int i) {
        return words[i * stride];
    }

    /** The subcluster bitmap (extended L2), 0 otherwise. */
    synchronized long bitmap(int i) {
        return stride == 2 ? words[i * stride + 1] : 0;
    }

    synchronized void set(int i, long entry, long bitmap) {
        words[i * stride] = entry;
        dirtySectors.set(i * stride * 8 / 512);
        if (stride == 2) {
            words[i * stride + 1] = bitmap;
        }
    }

    synchronized boolean dirty() {
        return !dirtySectors.isEmpty();
    }

    /** The dirty sectors as (file offset, bytes) pairs, clearing the marks. */
    synchronized java.util.List<io.tapdisk4j.image.MetadataBarrier.Write> takeDirty() {
        java.util.List<io.tapdisk4j.image.MetadataBarrier.Write> out = new java.util.ArrayList<>();
        for (int s = dirtySectors.nextSetBit(0); s >= 0; s = dirtySectors.nextSetBit(s + 1)) {
            int end = dirtySectors.nextClearBit(s);
            ByteBuffer b = ByteBuffer.allocate((end - s) * 512);
            for (int k = 0; k < (end - s) * 64; k++) {
                b.putLong(words[s * 64 + k]);
            }
            out.add(new io.tapdisk4j.image.MetadataBarrier.Write(offset + (long) s * 512, b.array()));
            s = end;
        }
        dirtySectors.clear();
        return out;
    }

    synchronized void markAllDirty() {
        dirtySectors.set(0, words.length * 8 / 512);
    }
}
