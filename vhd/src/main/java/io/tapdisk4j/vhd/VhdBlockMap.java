package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.image.LayerMap;

/**
 * A VHD's {@link LayerMap}: a range walked through the BAT and the sector bitmaps, in order. A block not in
 * the BAT, and a clear bit, leave the sectors to the parent (or zeroes).
 */
final class VhdBlockMap implements LayerMap {

    /** A block's part of a range: the block, the offset in it, the bytes, and the offset on the disk. */
    interface BlockPart {
        void accept(int block, int in, int n, long pos) throws BlockDeviceException;
    }

    private final VhdImage image;
    private final VhdBitmapCache bitmaps;

    VhdBlockMap(VhdImage image, VhdBitmapCache bitmaps) {
        this.image = image;
        this.bitmaps = bitmaps;
    }

    /** Calls {@code part} for each block's part of {@code [offset, offset + length)}, in order. */
    void eachBlock(long offset, long length, BlockPart part) throws BlockDeviceException {
        int blockSize = image.blockSize;
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int in = (int) (pos % blockSize);
            int n = (int) Math.min(blockSize - in, end - pos);
            part.accept((int) (pos / blockSize), in, n, pos);
            pos += n;
        }
    }

    @Override
    public void walk(long offset, long length, Run run) throws BlockDeviceException {
        int bitmapBytes = image.bitmapBytes;
        eachBlock(offset, length, (block, in, n, pos) -> {
            long boff = image.bat.offset(block);
            SectorBitmap bm = boff < 0 ? null : bitmaps.get(block, boff);
            if (boff < 0) {
                run.accept(pos, n, BELOW);
            } else if (bm == bitmaps.full()) {
                run.accept(pos, n, boff + bitmapBytes + in);
            } else {
                int p = in;
                int stop = in + n;
                while (p < stop) {
                    int sector = p / 512;
                    boolean here = bm.isSet(sector);
                    int bytes = Math.min(stop - p, (sector + bm.run(sector, (stop + 511) / 512 - sector)) * 512 - p);
                    run.accept((long) block * image.blockSize + p, bytes, here ? boff + bitmapBytes + p : BELOW);
                    p += bytes;
                }
            }
        });
    }
}
