package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.block.crash.WriteSchedule;
import io.tapdisk4j.image.ImageCrashTest;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A child JVM writing through the VHD device is killed with SIGKILL at a random point of its output (so in
 * the middle of writes, allocations and metadata write-back). Afterwards the image must pass {@code vdi check}
 * and QEMU, every write completed before a reported flush must be there, every other slot must hold either
 * its old or its new contents sector by sector, and the image must take more writes.
 * Iterations: {@code -Dvhd.crash.iterations=N} (default 6), seed {@code -Dvhd.crash.seed}. The writer and
 * the slot check are {@link ImageCrashTest}'s.
 */
class VhdCrashSafetyTest extends ImageCrashTest {

    static final int SLOTS = 512; // 32 MiB in 64 KiB slots
    static final long SIZE = (long) SLOTS * SLOT;

    @Test
    void killedWritersLeaveValidImages() throws Exception {
        int iterations = Integer.getInteger("vhd.crash.iterations", 6);
        long seed = Long.getLong("vhd.crash.seed", 20261125L);
        Random r = new Random(seed);
        for (int it = 0; it < iterations; it++) {
            boolean differencing = it % 2 == 1;
            WriteSchedule s = slots(r.nextLong(), SLOTS, BATCH);
            Path image = dir.resolve("crash" + it + ".vhd");
            String uri = "file://" + image;
            byte[] below = new byte[(int) SIZE];
            vdi.create(uri, SIZE, "vhd", false);
            if (differencing) {
                try (BlockDevice d = devices.open(uri)) {
                    Disks.scribble(d, below, new Random(s.seed), 30, 1 << 20, true);
                }
                Path parent = Path.of(vdi.snapshot(uri).substring("file://".length()));
                assertTrue(Files.exists(parent));
            }
            int killAfter = killAfterAcks(r, s);
            int flushed = runAndKill(uri, s, killAfter);
            String what = "iteration " + it + " (killed after " + killAfter + " flushes, " + flushed
                    + " writes flushed" + (differencing ? ", differencing)" : ")");
            System.out.println("crash " + what);
            verify(uri, image, s, flushed, below, differencing, what);
        }
    }

    void verify(String uri, Path image, WriteSchedule s, int flushed, byte[] below, boolean differencing, String what)
            throws Exception {
        VhdChecker.Result r = vdi.check(uri);
        assertTrue(r.ok(), what + ": vdi check: " + r);
        byte[] contents;
        try (BlockDevice d = devices.open(uri, OpenOptions.readOnlyOptions())) {
            contents = Disks.read(d, 0, (int) SIZE);
        }
        verifySlots(contents, below, s, flushed, what);
        if (!differencing) {
            VhdQemuInteropTest.qemuCheck(image);
            Path raw = dir.resolve("qemu.raw");
            Files.deleteIfExists(raw);
            Cmd.run(VhdQemuInteropTest.qemuImg(), "convert", "-f", "vpc", "-O", "raw", image.toString(), raw.toString()).ok();
            assertArrayEquals(contents, Files.readAllBytes(raw), what + ": QEMU reads the image differently");
        }
        // the image keeps working: reopen writable (repairs), write, and check again
        try (BlockDevice d = devices.open(uri)) {
            byte[] more = new byte[3 << 20];
            Arrays.fill(more, (byte) 0x3c);
            Disks.write(d, SIZE - more.length, more);
            System.arraycopy(more, 0, contents, (int) SIZE - more.length, more.length);
        }
        VhdChecker.Result after = vdi.check(uri);
        assertTrue(after.ok() && after.warnings().isEmpty(), what + ": after more writes: " + after);
        try (BlockDevice d = devices.open(uri, OpenOptions.readOnlyOptions())) {
            Disks.assertSame(contents, d, what + ": after more writes");
        }
    }
}
