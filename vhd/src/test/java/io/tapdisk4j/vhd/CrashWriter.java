package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Buffers;

import java.util.concurrent.TimeUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

/**
 * The child process of {@link VhdCrashSafetyTest}: writes numbered slots of a VHD through the device with
 * several requests in flight, flushing every few writes and reporting each flush on stdout, until killed.
 */
public final class CrashWriter {

    static final int SLOT = 64 * 1024;
    static final int BATCH = 8;

    private CrashWriter() {
    }

    /** The order slots are written in (a seeded shuffle, so new blocks are allocated in random order). */
    static int[] order(long seed, int slots) {
        int[] o = new int[slots];
        for (int i = 0; i < slots; i++) {
            o[i] = i;
        }
        Random r = new Random(seed);
        for (int i = slots - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = o[i];
            o[i] = o[j];
            o[j] = t;
        }
        return o;
    }

    /** What write number {@code i} puts in its slot; never a zero byte, so it differs from unwritten space. */
    static byte[] pattern(long seed, int i) {
        byte[] b = new byte[SLOT];
        new Random(seed * 1_000_003L + i).nextBytes(b);
        for (int k = 0; k < b.length; k++) {
            if (b[k] == 0) {
                b[k] = 1;
            }
        }
        return b;
    }

    public static void main(String[] args) throws Exception {
        String uri = args[0];
        long seed = Long.parseLong(args[1]);
        int slots = Integer.parseInt(args[2]);
        int[] order = order(seed, slots);
        try (BlockDevice d = BlockDevices.loadDefault().open(uri)) {
            System.out.println("OPEN");
            System.out.flush();
            for (int i = 0; i < slots; i += BATCH) {
                List<CompletableFuture<Void>> batch = new ArrayList<>();
                for (int k = i; k < Math.min(slots, i + BATCH); k++) {
                    byte[] data = pattern(seed, k);
                    int n = k;
                    batch.add(d.write((long) order[k] * SLOT, Buffers.direct(SLOT).writeBytes(data), false)
                            .thenRun(() -> System.out.println("W " + n)));
                }
                CompletableFuture.allOf(batch.toArray(CompletableFuture[]::new)).orTimeout(1, TimeUnit.MINUTES).join();
                d.flush().orTimeout(1, TimeUnit.MINUTES).join();
                System.out.println("FLUSHED " + Math.min(slots, i + BATCH));
                System.out.flush();
            }
            System.out.println("DONE");
        }
    }
}
