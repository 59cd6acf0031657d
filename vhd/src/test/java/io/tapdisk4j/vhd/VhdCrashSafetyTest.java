package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.OpenOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A child JVM writing through the VHD device is killed with SIGKILL at a random point of its output (so in
 * the middle of writes, allocations and metadata write-back). Afterwards the image must pass {@code vdi check}
 * and QEMU, every write completed before a reported flush must be there, every other slot must hold either
 * its old or its new contents sector by sector, and the image must take more writes.
 * Iterations: {@code -Dvhd.crash.iterations=N} (default 6), seed {@code -Dvhd.crash.seed}.
 */
class VhdCrashSafetyTest {

    static final int SLOTS = 512; // 32 MiB in 64 KiB slots
    static final long SIZE = (long) SLOTS * CrashWriter.SLOT;

    @TempDir
    Path dir;

    final BlockDevices devices = BlockDevices.loadDefault();
    final VdiOperations vdi = new VdiOperations(devices);

    @Test
    void killedWritersLeaveValidImages() throws Exception {
        int iterations = Integer.getInteger("vhd.crash.iterations", 6);
        long seed = Long.getLong("vhd.crash.seed", 20261125L);
        Random r = new Random(seed);
        for (int it = 0; it < iterations; it++) {
            boolean differencing = it % 2 == 1;
            long s = r.nextLong();
            Path image = dir.resolve("crash" + it + ".vhd");
            String uri = "file://" + image;
            byte[] below = new byte[(int) SIZE];
            vdi.create(uri, SIZE, "vhd", false);
            if (differencing) {
                try (BlockDevice d = devices.open(uri)) {
                    Disks.scribble(d, below, new Random(s), 30, 1 << 20, true);
                }
                Path parent = Path.of(vdi.snapshot(uri).substring("file://".length()));
                assertTrue(Files.exists(parent));
            }
            int killAfter = 1 + r.nextInt(SLOTS + SLOTS / CrashWriter.BATCH);
            int flushed = runAndKill(uri, s, killAfter);
            System.out.println("crash iteration " + it + ": killed after line " + killAfter + ", " + flushed
                    + " writes flushed" + (differencing ? " (differencing)" : ""));
            verify(uri, image, s, flushed, below, differencing, "iteration " + it + " (killed after line "
                    + killAfter + ", " + flushed + " writes flushed)");
        }
    }

    /** Runs the writer, kills it with SIGKILL after {@code killAfter} lines; returns the writes last flushed. */
    int runAndKill(String uri, long seed, int killAfter) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), CrashWriter.class.getName(), uri, Long.toString(seed),
                Integer.toString(SLOTS)).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        int flushed = 0;
        int lines = 0;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                if (line.startsWith("FLUSHED ")) {
                    flushed = Integer.parseInt(line.substring(8));
                }
                if (!line.equals("OPEN") && ++lines >= killAfter) {
                    break;
                }
            }
            p.destroyForcibly(); // SIGKILL: no shutdown hooks, no close()
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                throw new AssertionError("writer did not die");
            }
        }
        return flushed;
    }

    void verify(String uri, Path image, long seed, int flushed, byte[] below, boolean differencing, String what)
            throws Exception {
        VhdChecker.Result r = vdi.check(uri);
        assertTrue(r.ok(), what + ": vdi check: " + r);
        int[] order = CrashWriter.order(seed, SLOTS);
        byte[] contents;
        try (BlockDevice d = devices.open(uri, OpenOptions.readOnlyOptions())) {
            contents = Disks.read(d, 0, (int) SIZE);
        }
        for (int i = 0; i < SLOTS; i++) {
            int slot = order[i];
            byte[] want = CrashWriter.pattern(seed, i);
            byte[] got = Arrays.copyOfRange(contents, slot * CrashWriter.SLOT, (slot + 1) * CrashWriter.SLOT);
            if (i < flushed) {
                assertArrayEquals(want, got, what + ": flushed write " + i + " (slot " + slot + ") lost");
            } else {
                for (int sec = 0; sec < CrashWriter.SLOT; sec += 512) {
                    boolean isNew = Arrays.equals(got, sec, sec + 512, want, sec, sec + 512);
                    int base = slot * CrashWriter.SLOT + sec;
                    boolean isOld = Arrays.equals(got, sec, sec + 512, below, base, base + 512);
                    assertTrue(isNew || isOld, what + ": unflushed write " + i + " left sector " + sec
                            + " of slot " + slot + " with neither old nor new contents");
                }
            }
        }
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
