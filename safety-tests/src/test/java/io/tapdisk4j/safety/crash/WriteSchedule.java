package io.tapdisk4j.safety.crash;

import io.netty.buffer.ByteBuf;

import java.util.SplittableRandom;

/**
 * The write stream a crash writer issues, reproducible from its seed: write i goes to block
 * {@link #block(int)}, carries {@link #fill(ByteBuf, int)} (its own index and seed in the first 16 bytes,
 * then words derived from both), and every {@code flushEvery}th write is followed by a flush (every
 * {@code fuaEvery}th is a FUA write instead), after which everything up to it is acknowledged.
 */
final class WriteSchedule {

    static final int BLOCK = 4096;

    final long seed;
    final int blocks;
    final int writes;
    final int flushEvery;
    final int fuaEvery;
    private final int[] targets;

    WriteSchedule(long seed, int blocks, int writes, int flushEvery, int fuaEvery) {
        this.seed = seed;
        this.blocks = blocks;
        this.writes = writes;
        this.flushEvery = flushEvery;
        this.fuaEvery = fuaEvery;
        this.targets = new int[writes];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < writes; i++) {
            // Half the writes go to a small hot set, so blocks are overwritten while earlier writes are unacknowledged.
            targets[i] = r.nextBoolean() ? r.nextInt(Math.min(8, blocks)) : r.nextInt(blocks);
        }
    }

    int block(int i) {
        return targets[i];
    }

    boolean fua(int i) {
        return fuaEvery > 0 && i % fuaEvery == fuaEvery - 1;
    }

    boolean flushAfter(int i) {
        return flushEvery > 0 && i % flushEvery == flushEvery - 1;
    }

    static long word(long seed, int i, int w) {
        long z = seed + 0x9E3779B97F4A7C15L * (((long) i << 16) + w + 1);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    void fill(ByteBuf b, int i) {
        b.writeLong(seed).writeLong(i);
        for (int w = 2; w < BLOCK / 8; w++) {
            b.writeLong(word(seed, i, w));
        }
    }

    static final int SECTOR = 512;

    /**
     * Which write to {@code block}, from write {@code from} on, produced the bytes of 512-byte sector
     * {@code sector} of {@code b}: the first such write whose sector matches, or -1.
     */
    int identifySector(ByteBuf b, int block, int sector, int from) {
        int r = b.readerIndex() + sector * SECTOR;
        int firstWord = sector * SECTOR / 8;
        for (int j = Math.max(0, from); j < writes; j++) {
            if (targets[j] != block) {
                continue;
            }
            boolean same = true;
            for (int w = firstWord; w < firstWord + SECTOR / 8 && same; w++) {
                long expect = w == 0 ? seed : w == 1 ? j : word(seed, j, w);
                same = b.getLong(r + 8 * (w - firstWord)) == expect;
            }
            if (same) {
                return j;
            }
        }
        return -1;
    }

    /** Which write of this schedule produced {@code block}'s bytes: its index, -1 for zeroes, -2 for anything else. */
    int identify(ByteBuf b) {
        int r = b.readerIndex();
        boolean zero = true;
        for (int k = 0; k < BLOCK && zero; k += 8) {
            zero = b.getLong(r + k) == 0;
        }
        if (zero) {
            return -1;
        }
        if (b.getLong(r) != seed) {
            return -2;
        }
        long i = b.getLong(r + 8);
        if (i < 0 || i >= writes) {
            return -2;
        }
        for (int w = 2; w < BLOCK / 8; w++) {
            if (b.getLong(r + 8 * w) != word(seed, (int) i, w)) {
                return -2; // torn or garbled
            }
        }
        return (int) i;
    }
}
