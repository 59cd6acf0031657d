package io.tapdisk4j.image;

import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.crash.CrashChild;
import io.tapdisk4j.block.crash.WriteSchedule;
import io.tapdisk4j.vhd.VdiOperations;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the image formats' crash tests share: the shared crash writer ({@link CrashChild}) writing every
 * 64 KiB slot of an image once, in shuffled order (so units are allocated in random order), in batches of
 * {@value #BATCH} each followed by a flush, killed with SIGKILL after a random number of them; and the check
 * afterwards: every write a flush covered is there, every other slot holds its old or its new contents,
 * sector by sector.
 */
public abstract class ImageCrashTest {

    public static final int SLOT = 64 * 1024;
    public static final int BATCH = 8;

    @TempDir
    protected Path dir;

    protected final BlockDevices devices = BlockDevices.loadDefault();
    protected final VdiOperations vdi = new VdiOperations(devices);

    /** Every one of {@code slots} slots written once, a flush after every {@code batch} writes. */
    public static WriteSchedule slots(long seed, int slots, int batch) {
        return WriteSchedule.once(seed, slots, SLOT, batch);
    }

    /** A kill point: after 1 to all of the schedule's acknowledgements (all: after the writer's end). */
    public static int killAfterAcks(java.util.Random r, WriteSchedule s) {
        return 1 + r.nextInt(s.writes / s.flushEvery + 1);
    }

    /**
     * Runs the crash writer on {@code uri} with {@value #BATCH} writes in flight and kills it with SIGKILL
     * after {@code acks} acknowledgements; returns how many writes were acknowledged durable.
     */
    protected int runAndKill(String uri, WriteSchedule s, int acks) throws Exception {
        try (CrashChild child = CrashChild.start(dir, uri, s, BATCH)) {
            int lastAck = child.awaitAcks(acks);
            child.kill(); // somewhere after the last acknowledgement read: writes in flight are lost or not
            return lastAck + 1;
        }
    }

    /** Flushed writes hold their data; the others, sector by sector, their old ({@code below}) or new contents. */
    public static void verifySlots(byte[] contents, byte[] below, WriteSchedule s, int flushed, String what) {
        int slot = s.blockSize;
        for (int i = 0; i < s.writes; i++) {
            int at0 = s.block(i) * slot;
            byte[] want = s.bytes(i);
            if (i < flushed) {
                assertTrue(Arrays.equals(contents, at0, at0 + slot, want, 0, slot),
                        what + ": flushed write " + i + " (slot " + s.block(i) + ") lost");
                continue;
            }
            for (int sec = 0; sec < slot; sec += WriteSchedule.SECTOR) {
                int at = at0 + sec;
                boolean isNew = Arrays.equals(contents, at, at + 512, want, sec, sec + 512);
                boolean isOld = Arrays.equals(contents, at, at + 512, below, at, at + 512);
                assertTrue(isNew || isOld, what + ": unflushed write " + i + " left sector " + sec + " of slot "
                        + s.block(i) + " with neither old nor new contents");
            }
        }
    }
}
