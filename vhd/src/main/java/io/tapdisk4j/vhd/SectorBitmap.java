package io.tapdisk4j.vhd;

/**
 * The bitmap in front of each data block: one bit per 512-byte sector, most significant bit first, set when
 * the sector holds data in this image (clear: read the parent, or zeroes). Guarded by its own monitor.
 */
public final class SectorBitmap {

    private final byte[] bits;
    private final int sectors;
    private boolean dirty;

    SectorBitmap(byte[] bits, int sectors) {
        this.bits = bits;
        this.sectors = sectors;
    }

    static SectorBitmap empty(int blockSize) {
        return new SectorBitmap(new byte[bytesFor(blockSize)], blockSize / 512);
    }

    /** A bitmap with every sector set: what a block of a dynamic disk starts with. */
    static SectorBitmap full(int blockSize) {
        SectorBitmap b = empty(blockSize);
        b.set(0, b.sectors);
        b.dirty = false;
        return b;
    }

    /** Bytes a block of {@code blockSize} needs for its bitmap, rounded up to whole sectors. */
    public static int bytesFor(int blockSize) {
        int raw = (blockSize / 512 + 7) / 8;
        return (raw + 511) / 512 * 512;
    }

    public synchronized boolean isSet(int sector) {
        return (bits[sector >>> 3] & (0x80 >>> (sector & 7))) != 0;
    }

    /** Sets {@code count} bits from {@code from}; true when any changed (the bitmap then needs writing). */
    public synchronized boolean set(int from, int count) {
        boolean changed = false;
        for (int s = from; s < from + count; s++) {
            int mask = 0x80 >>> (s & 7);
            if ((bits[s >>> 3] & mask) == 0) {
                bits[s >>> 3] |= (byte) mask;
                changed = true;
            }
        }
        if (changed) {
            dirty = true;
        }
        return changed;
    }

    public synchronized boolean clear(int from, int count) {
        boolean changed = false;
        for (int s = from; s < from + count; s++) {
            int mask = 0x80 >>> (s & 7);
            if ((bits[s >>> 3] & mask) != 0) {
                bits[s >>> 3] &= (byte) ~mask;
                changed = true;
            }
        }
        if (changed) {
            dirty = true;
        }
        return changed;
    }

    /** How many sectors from {@code from} (at most {@code max}) share the state of sector {@code from}. */
    public synchronized int run(int from, int max) {
        boolean state = isSet(from);
        int n = 1;
        while (n < max && isSet(from + n) == state) {
            n++;
        }
        return n;
    }

    public synchronized boolean anySet() {
        for (int s = 0; s < sectors; s++) {
            if (isSet(s)) {
                return true;
            }
        }
        return false;
    }

    public synchronized boolean allSet() {
        return run(0, sectors) == sectors && isSet(0);
    }

    public int sectors() {
        return sectors;
    }

    /** A copy of the bits for writing, clearing the dirty mark (set again by any later change). */
    synchronized byte[] snapshotForWrite() {
        dirty = false;
        return bits.clone();
    }

    synchronized boolean dirty() {
        return dirty;
    }

    synchronized void markDirty() {
        dirty = true;
    }

    synchronized byte[] copy() {
        return bits.clone();
    }
}
