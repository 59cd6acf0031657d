package io.tapdisk4j.block.crash;

import io.netty.buffer.ByteBuf;

import java.util.SplittableRandom;

/**
 * The write stream a crash writer issues, reproducible from its seed: write i goes to block
 * {@link #block(int)}, carries {@link #fill(ByteBuf, int)} (its own index and seed in the first 16 bytes,
 * then words derived from both), and every {@code flushEvery}th write is followed by a flush (every
 * {@code fuaEvery}th is a FUA write instead), after which everything up to it is acknowledged.
 * Two kinds: {@link #WriteSchedule(long, int, int, int, int) overwrites} (half the writes into a small hot
 * set of 4 KiB blocks) and {@link #once} (every block written once, in shuffled order, so that an image
 * allocates its units in random order).
 */
public final class WriteSchedule {

    /** The block size of overwriting schedules. */
    public static final int BLOCK = 4096;
    public static final int SECTOR = 512;

    public final long seed;
    public final int blocks;
    public final int writes;
    public final int flushEvery;
    public final int fuaEvery;
    public final int blockSize;
    private final boolean once;
    private final int[] targets;

    /** Overwrites: {@code writes} writes of {@link #BLOCK} bytes over {@code blocks} blocks. */
    public WriteSchedule(long seed, int blocks, int writes, int flushEvery, int fuaEvery) {
        this(seed, blocks, writes, flushEvery, fuaEvery, BLOCK, false);
    }

    private WriteSchedule(long seed, int blocks, int writes, int flushEvery, int fuaEvery, int blockSize,
                          boolean once) {
        if (blockSize % SECTOR != 0 || blockSize <= 0) {
            throw new IllegalArgumentException("block size " + blockSize + " is not whole sectors");
        }
        this.seed = seed;
        this.blocks = blocks;
        this.writes = writes;
        this.flushEvery = flushEvery;
        this.fuaEvery = fuaEvery;
        this.blockSize = blockSize;
        this.once = once;
        this.targets = new int[writes];
        SplittableRandom r = new SplittableRandom(seed);
        if (once) {
            for (int i = 0; i < writes; i++) {
                targets[i] = i;
            }
            for (int i = writes - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = targets[i];
                targets[i] = targets[j];
                targets[j] = t;
            }
            return;
        }
        for (int i = 0; i < writes; i++) {
            // Half the writes go to a small hot set, so blocks are overwritten while earlier writes are unacknowledged.
            targets[i] = r.nextBoolean() ? r.nextInt(Math.min(8, blocks)) : r.nextInt(blocks);
        }
    }

    /** Every one of {@code blocks} blocks of {@code blockSize} bytes written once, in shuffled order. */
    public static WriteSchedule once(long seed, int blocks, int blockSize, int flushEvery) {
        return new WriteSchedule(seed, blocks, blocks, flushEvery, 0, blockSize, true);
    }

    /** The arguments that make this schedule again in {@link CrashWriter}'s process. */
    java.util.List<String> args() {
        return java.util.List.of(Long.toString(seed), Integer.toString(blocks), Integer.toString(writes),
                Integer.toString(flushEvery), Integer.toString(fuaEvery), Integer.toString(blockSize),
                Boolean.toString(once));
    }

    static WriteSchedule parse(String[] a, int from) {
        return new WriteSchedule(Long.parseLong(a[from]), Integer.parseInt(a[from + 1]), Integer.parseInt(a[from + 2]),
                Integer.parseInt(a[from + 3]), Integer.parseInt(a[from + 4]), Integer.parseInt(a[from + 5]),
                Boolean.parseBoolean(a[from + 6]));
    }

    public int block(int i) {
        return targets[i];
    }

    public boolean fua(int i) {
        return fuaEvery > 0 && i % fuaEvery == fuaEvery - 1;
    }

    public boolean flushAfter(int i) {
        return flushEvery > 0 && i % flushEvery == flushEvery - 1;
    }

    public static long word(long seed, int i, int w) {
        long z = seed + 0x9E3779B97F4A7C15L * (((long) i << 16) + w + 1);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Appends write {@code i}'s {@link #blockSize} bytes to {@code b}. */
    public void fill(ByteBuf b, int i) {
        b.writeLong(seed).writeLong(i);
        for (int w = 2; w < blockSize / 8; w++) {
            b.writeLong(word(seed, i, w));
        }
    }

    /** Write {@code i}'s bytes. */
    public byte[] bytes(int i) {
        ByteBuf b = io.netty.buffer.Unpooled.buffer(blockSize);
        fill(b, i);
        return b.array();
    }

    /**
     * Which write to {@code block}, from write {@code from} on, produced the bytes of 512-byte sector
     * {@code sector} of {@code b}: the first such write whose sector matches, or -1.
     */
    public int identifySector(ByteBuf b, int block, int sector, int from) {
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
    public int identify(ByteBuf b) {
        int r = b.readerIndex();
        boolean zero = true;
        for (int k = 0; k < blockSize && zero; k += 8) {
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
        for (int w = 2; w < blockSize / 8; w++) {
            if (b.getLong(r + 8 * w) != word(seed, (int) i, w)) {
                return -2; // torn or garbled
            }
        }
        return (int) i;
    }
}
