package io.tapdisk4j.safety.crash;

import io.tapdisk4j.block.crash.WriteSchedule;
import io.tapdisk4j.block.crash.CrashChild;
import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.safety.report.SafetyReport;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kill/reopen/verify rounds: a {@link io.tapdisk4j.block.crash.CrashWriter} JVM streams seeded writes to an
 * image and is killed with SIGKILL at a random point after its n-th acknowledgement; then the image is checked: every write
 * acknowledged after a flush or with FUA is there, or a later write to the same block replaced it, whole
 * or (a write cut short by the kill) sector by sector; nothing else, nothing garbled. A second view of the
 * same data is checked too when the check names one.
 */
final class CrashRounds {

    static final int BLOCKS = 256;
    static final int WRITES = 50_000;

    /** Runs after the kill and before any check: waits until storage has seen the last of the dead writer's I/O. */
    interface Quiesce {
        Quiesce NONE = () -> {
        };

        void await() throws Exception;
    }

    /**
     * A consistency check run after every kill, before the data is verified; it may name a second view of
     * the same data (QEMU's) that must hold the acknowledged writes too.
     */
    interface Check {
        Check NONE = () -> null;

        String run() throws Exception;
    }

    private CrashRounds() {
    }

    /** Rounds per image: 4, or one per 100 trials of {@code -Dsafety.trials}. */
    static int rounds() {
        return Math.max(4, SafetyReport.trials() / 100);
    }

    /**
     * Runs the rounds: the writer opens {@code writerUri}, the checks read {@code readerUri} (the same
     * storage, possibly by another way in). Returns the bytes verified.
     */
    static long run(Path dir, String name, String writerUri, String readerUri, Quiesce quiesce, Check check)
            throws Exception {
        SplittableRandom r = new SplittableRandom(SafetyReport.seedFor("crash/" + name));
        long verified = 0;
        long[] torn = {0};
        int rounds = rounds();
        for (int round = 0; round < rounds; round++) {
            WriteSchedule s = new WriteSchedule(r.nextLong() | 1, BLOCKS, WRITES, 1 + r.nextInt(32), 2 + r.nextInt(40));
            int killAfterAcks = 1 + r.nextInt(30);
            int lastAck = -1;
            long started = System.nanoTime();
            try (CrashChild child = CrashChild.start(dir, writerUri, s, 1 + r.nextInt(16))) {
                lastAck = child.awaitAcks(killAfterAcks);
                child.kill(); // somewhere after the last acknowledgement read: writes in flight are lost or not
            }
            long killed = System.nanoTime();
            quiesce.await();
            long quiet = System.nanoTime();
            String secondView = check.run();
            verified += verify(readerUri, s, lastAck, name, round, torn);
            if (secondView != null) {
                verified += verify(secondView, s, lastAck, name + " (QEMU's view)", round, torn);
            }
            if (Boolean.getBoolean("safety.debug")) {
                System.out.printf("[safety-debug] crash %s round %d: writer ran %d ms, quiesce %d ms, checks %d ms%n",
                        name, round, (killed - started) / 1_000_000, (quiet - killed) / 1_000_000,
                        (System.nanoTime() - quiet) / 1_000_000);
            }
        }
        System.out.println("[safety] crash " + name + ": " + rounds + " SIGKILL rounds, " + verified + " bytes verified"
                + (torn[0] > 0 ? ", " + torn[0] + " block reads found a later write torn at a sector boundary" : ""));
        return verified;
    }

    /**
     * Checks one kill's result; returns the bytes verified. {@code torn} counts blocks found holding, sector by
     * sector, the acknowledged write and a later one cut short.
     */
    static long verify(String uri, WriteSchedule s, int lastAck, String name, int round, long[] torn) throws Exception {
        int[] lastAcked = new int[s.blocks];
        Arrays.fill(lastAcked, -1);
        for (int i = 0; i <= lastAck; i++) {
            lastAcked[s.block(i)] = i;
        }
        long verified = 0;
        try (BlockDevice d = BlockDevices.loadDefault().open(uri)) {
            for (int b = 0; b < s.blocks; b++) {
                if (lastAcked[b] < 0) {
                    continue;
                }
                ByteBuf data = d.read((long) b * WriteSchedule.BLOCK, WriteSchedule.BLOCK).get(30, TimeUnit.SECONDS);
                try {
                    int found = s.identify(data);
                    String where = name + " round " + round + " (seed " + s.seed + ") block " + b;
                    if (found < lastAcked[b] || (found >= 0 && s.block(found) != b)) {
                        // Not one whole write at least as new as the acknowledged one. A disk guarantees no
                        // more than its sectors: a later write cut short by the kill (a 4 KiB write crossing
                        // a page of the file, as VHD data does) may have replaced some sectors only. Every
                        // sector must then come from the acknowledged write or a later one to this block.
                        int[] sectors = new int[WriteSchedule.BLOCK / WriteSchedule.SECTOR];
                        for (int k = 0; k < sectors.length; k++) {
                            sectors[k] = s.identifySector(data, b, k, lastAcked[b]);
                        }
                        int acked = lastAcked[b];
                        assertTrue(Arrays.stream(sectors).allMatch(j -> j >= acked), where
                                + ": acknowledged write " + lastAcked[b] + " lost (" + (found == -1 ? "zeroes"
                                : found >= 0 ? "holds write " + found : "garbled or older data") + "; by sector: "
                                + Arrays.toString(sectors) + ")");
                        torn[0]++;
                    }
                    verified += WriteSchedule.BLOCK;
                } finally {
                    data.release();
                }
            }
        }
        return verified;
    }

    /**
     * The content QEMU must read from the image: what {@code uri} reads in the blocks the writers use (checked
     * against the acknowledgements by {@link #verify}), zeroes everywhere else, as a sparse raw file of the
     * image's virtual size.
     */
    static Path expectedContent(String uri, long virtualSize, Path file) throws Exception {
        try (BlockDevice d = BlockDevices.loadDefault().open(uri);
             RandomAccessFile out = new RandomAccessFile(file.toFile(), "rw")) {
            assertEquals(virtualSize, d.size(), uri + ": virtual size");
            out.setLength(0);
            out.setLength(virtualSize);
            int length = BLOCKS * WriteSchedule.BLOCK;
            ByteBuf data = d.read(0, length).get(30, TimeUnit.SECONDS);
            try {
                byte[] bytes = new byte[length];
                data.getBytes(data.readerIndex(), bytes);
                out.write(bytes);
            } finally {
                data.release();
            }
        }
        return file;
    }

    /** Runs a command; fails with its output unless it exits 0. */
    static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + " after SIGKILL:\n" + out);
        return out;
    }
}
