package io.tapdisk4j.block.cbt;

import io.tapdisk4j.block.BlockStatus;
import io.tapdisk4j.block.DirtyBitmap;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.function.LongPredicate;

/** Bitmaps of 64 KiB blocks as status runs, and a fixed bitmap (the changes between two snapshots). */
public final class CbtBitmaps {

    private CbtBitmaps() {
    }

    /** Runs over {@code [offset, offset+length)}: value 1 where {@code dirty} holds for the block, else 0. */
    static List<BlockStatus> runs(LongPredicate dirty, long offset, long length) {
        List<BlockStatus> out = new ArrayList<>();
        long end = offset + length;
        long pos = offset;
        while (pos < end) {
            long block = pos / CbtLog.BLOCK_SIZE;
            boolean d = dirty.test(block);
            long stop = Math.min(end, (block + 1) * CbtLog.BLOCK_SIZE);
            while (stop < end && dirty.test(stop / CbtLog.BLOCK_SIZE) == d) {
                stop = Math.min(end, stop + CbtLog.BLOCK_SIZE);
            }
            out.add(new BlockStatus(pos, stop - pos, d ? 1 : 0));
            pos = stop;
        }
        return out;
    }

    /** A bitmap that does not change: {@code vdi cbt changed BASE NEW} served as {@code qemu:dirty-bitmap:NAME}. */
    public static DirtyBitmap fixed(String name, BitSet bits) {
        BitSet copy = (BitSet) bits.clone();
        return new DirtyBitmap() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public int granularity() {
                return CbtLog.BLOCK_SIZE;
            }

            @Override
            public List<BlockStatus> status(long offset, long length) {
                return runs(b -> b <= Integer.MAX_VALUE && copy.get((int) b), offset, length);
            }
        };
    }

    /** Changed blocks as byte extents {@code [offset, length]} within a disk of {@code size} bytes. */
    public static List<long[]> extents(BitSet bits, long size) {
        List<long[]> out = new ArrayList<>();
        for (int b = bits.nextSetBit(0); b >= 0; ) {
            int stop = bits.nextClearBit(b);
            long off = (long) b * CbtLog.BLOCK_SIZE;
            long endAt = Math.min(size, (long) stop * CbtLog.BLOCK_SIZE);
            if (off < endAt) {
                out.add(new long[]{off, endAt - off});
            }
            b = bits.nextSetBit(stop);
        }
        return out;
    }
}
