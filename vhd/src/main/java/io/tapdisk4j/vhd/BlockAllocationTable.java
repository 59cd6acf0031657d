package io.tapdisk4j.vhd;

import java.nio.ByteBuffer;
import java.util.BitSet;

/**
 * The BAT: for each block of the virtual disk, the sector where its bitmap and data lie in the file, or
 * {@link #UNUSED}. Big-endian 32-bit entries; on disk the table is padded to whole sectors with UNUSED.
 * Changes are made in memory and mark the 512-byte table sector dirty for the next metadata write.
 */
public final class BlockAllocationTable {

    public static final int UNUSED = 0xFFFF_FFFF;
    static final int ENTRIES_PER_SECTOR = 128;

    private final int[] entries;
    private final BitSet dirtySectors = new BitSet();

    BlockAllocationTable(int[] entries) {
        this.entries = entries;
    }

    static BlockAllocationTable empty(int count) {
        int[] e = new int[count];
        java.util.Arrays.fill(e, UNUSED);
        return new BlockAllocationTable(e);
    }

    static BlockAllocationTable parse(byte[] table, int count) {
        ByteBuffer b = ByteBuffer.wrap(table);
        int[] e = new int[count];
        for (int i = 0; i < count; i++) {
            e[i] = b.getInt(i * 4);
        }
        return new BlockAllocationTable(e);
    }

    /** Bytes the table takes on disk: whole sectors. */
    public static long bytesOnDisk(int count) {
        return ((long) count * 4 + 511) / 512 * 512;
    }

    public int size() {
        return entries.length;
    }

    /** The byte offset of block {@code i}'s bitmap, or -1 when the block is not allocated. */
    public synchronized long offset(int i) {
        int e = entries[i];
        return e == UNUSED ? -1 : Integer.toUnsignedLong(e) * 512;
    }

    public synchronized boolean allocated(int i) {
        return entries[i] != UNUSED;
    }

    synchronized void set(int i, long byteOffset) {
        entries[i] = byteOffset < 0 ? UNUSED : (int) (byteOffset / 512);
        dirtySectors.set(i / ENTRIES_PER_SECTOR);
    }

    /** The dirty table sectors (each entry: sector index and its 512 bytes), clearing the dirty marks. */
    synchronized java.util.List<java.util.Map.Entry<Integer, byte[]>> takeDirty() {
        java.util.List<java.util.Map.Entry<Integer, byte[]>> out = new java.util.ArrayList<>();
        for (int s = dirtySectors.nextSetBit(0); s >= 0; s = dirtySectors.nextSetBit(s + 1)) {
            out.add(java.util.Map.entry(s, sector(s)));
        }
        dirtySectors.clear();
        return out;
    }

    synchronized void markDirty(int sector) {
        dirtySectors.set(sector);
    }

    synchronized boolean hasDirty() {
        return !dirtySectors.isEmpty();
    }

    synchronized byte[] sector(int s) {
        byte[] out = new byte[512];
        ByteBuffer b = ByteBuffer.wrap(out);
        for (int k = 0; k < ENTRIES_PER_SECTOR; k++) {
            int i = s * ENTRIES_PER_SECTOR + k;
            b.putInt(i < entries.length ? entries[i] : UNUSED);
        }
        return out;
    }

    /** The whole table as written on disk. */
    synchronized byte[] encode() {
        int sectors = (int) (bytesOnDisk(entries.length) / 512);
        byte[] out = new byte[sectors * 512];
        for (int s = 0; s < sectors; s++) {
            System.arraycopy(sector(s), 0, out, s * 512, 512);
        }
        return out;
    }

    synchronized int allocatedCount() {
        int n = 0;
        for (int e : entries) {
            if (e != UNUSED) {
                n++;
            }
        }
        return n;
    }

    synchronized int[] snapshot() {
        return entries.clone();
    }

    /** A copy with {@code count} entries: new ones unused when growing, the last ones cut off when shrinking. */
    synchronized BlockAllocationTable resized(int count) {
        int[] e = java.util.Arrays.copyOf(entries, count);
        if (count > entries.length) {
            java.util.Arrays.fill(e, entries.length, count, UNUSED);
        }
        return new BlockAllocationTable(e);
    }
}
