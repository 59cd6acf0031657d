package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.image.Io;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;

/**
 * The sector bitmaps of an image's blocks, loaded on first use and kept. An all-set bitmap is kept as one
 * shared object (never written to: a block whose bits get cleared gets one of its own), so a touched block
 * costs memory only when some of its bits are clear.
 */
final class VhdBitmapCache {

    private final VhdImage image;
    private final SectorBitmap full;
    private final ConcurrentHashMap<Integer, SectorBitmap> bitmaps = new ConcurrentHashMap<>();

    VhdBitmapCache(VhdImage image) {
        this.image = image;
        this.full = image.header == null ? null : SectorBitmap.full(image.blockSize);
    }

    /** The shared all-set bitmap. */
    SectorBitmap full() {
        return full;
    }

    /** Block {@code block}'s bitmap, read from {@code boff} in the file the first time. */
    SectorBitmap get(int block, long boff) throws BlockDeviceException {
        SectorBitmap bm = bitmaps.get(block);
        if (bm != null) {
            return bm;
        }
        byte[] bits = Io.read(image.transport, boff, image.bitmapBytes);
        SectorBitmap loaded = new SectorBitmap(bits, image.blockSize / 512);
        if (loaded.allSet()) {
            loaded = full;
        }
        SectorBitmap raced = bitmaps.putIfAbsent(block, loaded);
        return raced != null ? raced : loaded;
    }

    /** The block's bitmap as an object of its own (never the shared all-set one), for clearing bits. */
    SectorBitmap own(int block, long boff) throws BlockDeviceException {
        while (true) {
            SectorBitmap bm = get(block, boff);
            if (bm != full) {
                return bm;
            }
            SectorBitmap own = SectorBitmap.full(image.blockSize);
            if (bitmaps.replace(block, full, own)) {
                return own;
            }
        }
    }

    /** The bitmap of a block just allocated (which holds its own bits only in a differencing disk). */
    void put(int block, SectorBitmap bm) {
        bitmaps.put(block, bm);
    }

    /** The cached bitmap, or null. */
    SectorBitmap cached(int block) {
        return bitmaps.get(block);
    }

    void remove(int block) {
        bitmaps.remove(block);
    }

    void clear() {
        bitmaps.clear();
    }

    /** Visits each cached bitmap with its block. */
    void forEach(BiConsumer<Integer, SectorBitmap> visit) {
        for (Map.Entry<Integer, SectorBitmap> e : bitmaps.entrySet()) {
            visit.accept(e.getKey(), e.getValue());
        }
    }
}
