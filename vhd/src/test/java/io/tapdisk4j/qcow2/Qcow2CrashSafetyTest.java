package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.block.crash.WriteSchedule;
import io.tapdisk4j.block.local.FileDevice;
import io.tapdisk4j.image.ImageCrashTest;
import io.tapdisk4j.vhd.ChangeLog;
import io.tapdisk4j.vhd.Cmd;
import io.tapdisk4j.vhd.Disks;
import io.tapdisk4j.vhd.VhdChecker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static io.tapdisk4j.qcow2.Qcow2QemuInteropTest.qemuImg;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Crashes during allocation: a writer process killed with SIGKILL at random points, and every state a power
 * cut after any change could leave (replayed from a log of the transport's writes and flushes). Afterwards
 * {@code qemu-img check} finds no corruption (leaks are allowed), every write a flush covered is there, and
 * every other slot holds its old or its new contents, sector by sector.
 */
@Timeout(600)
class Qcow2CrashSafetyTest extends ImageCrashTest {

    /** qemu-img check: exit 0 (clean) or 3 (leaks only); never corruptions. */
    static void qemuCheckNoCorruption(Path image, String what) throws Exception {
        Cmd c = Cmd.run(qemuImg(), "check", "-f", "qcow2", "--output=json", image.toString());
        assertTrue((c.exit() == 0 || c.exit() == 3) && !c.output().contains("\"corruptions\""),
                what + ": qemu-img check: exit " + c.exit() + " " + c.output());
    }

    Path create(String name, long size, int clusterSize, boolean ext, byte[] below) throws Exception {
        Path p = dir.resolve(name);
        String backing = null;
        if (below != null) {
            Path raw = dir.resolve(name + ".base.raw");
            Files.write(raw, below);
            backing = raw.getFileName().toString();
        }
        try (BlockDevice t = devices.provider(DeviceUri.parse("file://" + p)).create(DeviceUri.parse("file://" + p), 0)) {
            Qcow2Creator.create(t, size, new Qcow2Creator.Options(clusterSize, ext, backing, below == null ? null : "raw"));
        }
        return p;
    }

    @Test
    void killedWritersLeaveImagesQemuAccepts() throws Exception {
        int slots = 128; // 8 MiB of 64 KiB slots
        long size = (long) slots * SLOT;
        Random r = new Random(Long.getLong("qcow2.crash.seed", 20261207L));
        int[][] variants = {{65536, 0, 0}, {4096, 0, 0}, {512, 0, 0}, {32768, 1, 1}, {65536, 0, 1}};
        for (int it = 0; it < variants.length * Integer.getInteger("qcow2.crash.rounds", 1); it++) {
            int[] v = variants[it % variants.length];
            WriteSchedule s = slots(r.nextLong(), slots, BATCH);
            byte[] below = new byte[(int) size];
            if (v[2] == 1) {
                new Random(s.seed).nextBytes(below);
            }
            Path image = create("kill" + it + ".qcow2", size, v[0], v[1] == 1, v[2] == 1 ? below : null);
            int killAfter = killAfterAcks(r, s);
            int flushed = runAndKill("file://" + image, s, killAfter);
            String what = "iteration " + it + " (clusters " + v[0] + (v[1] == 1 ? ", extended L2" : "")
                    + (v[2] == 1 ? ", backing file" : "") + ", killed after " + killAfter + " flushes, " + flushed
                    + " flushed)";
            System.out.println(what);
            qemuCheckNoCorruption(image, what);
            VhdChecker.Result check = vdi.check("file://" + image);
            assertTrue(check.ok(), what + ": vdi check: " + check);
            byte[] contents;
            try (BlockDevice d = devices.open("file://" + image, OpenOptions.readOnlyOptions())) {
                contents = Disks.read(d, 0, (int) size);
            }
            verifySlots(contents, below, s, flushed, what);
            Path raw = dir.resolve("qemu.raw");
            Files.deleteIfExists(raw);
            Cmd.run(qemuImg(), "convert", "-O", "raw", image.toString(), raw.toString()).ok();
            assertArrayEquals(contents, Files.readAllBytes(raw), what + ": QEMU reads the image differently");
            // the image keeps working
            try (BlockDevice d = devices.open("file://" + image)) {
                byte[] more = new byte[1 << 20];
                Arrays.fill(more, (byte) 0x3c);
                Disks.write(d, size - more.length, more);
            }
            qemuCheckNoCorruption(image, what + ", after more writes");
        }
    }

    @Test
    void everyPowerCutDuringAllocationLeavesAValidImage() throws Exception {
        // small clusters: new L2 tables, refcount blocks and a refcount table that moves, all within a few MiB
        for (int[] v : new int[][]{{512, 0, 0}, {4096, 0, 1}, {16384, 1, 1}}) {
            int slots = 24;
            long size = (long) slots * SLOT;
            WriteSchedule s = slots(77 + v[0], slots, 4);
            byte[] below = new byte[(int) size];
            if (v[2] == 1) {
                new Random(s.seed).nextBytes(below);
            }
            Path image = create("cut" + v[0] + ".qcow2", size, v[0], v[1] == 1, v[2] == 1 ? below : null);
            byte[] initial = Files.readAllBytes(image);
            ChangeLog log = new ChangeLog(FileDevice.open(image.toString(), false, false));
            List<Integer> marks = new ArrayList<>(); // log length when each guest flush completed
            try (BlockDevice d = Qcow2Opener.open(log, DeviceUri.parse("file://" + image), false, devices)) {
                for (int i = 0; i < slots; i += 4) {
                    List<CompletableFuture<Void>> batch = new ArrayList<>();
                    for (int k = i; k < Math.min(slots, i + 4); k++) {
                        byte[] data = s.bytes(k);
                        batch.add(d.write((long) s.block(k) * SLOT,
                                Buffers.direct(data.length).writeBytes(data), false));
                    }
                    CompletableFuture.allOf(batch.toArray(CompletableFuture[]::new)).join();
                    d.flush().join();
                    marks.add(log.entries().size());
                }
            }
            List<ChangeLog.Entry> entries = log.entries();
            List<ChangeLog.CrashPoint> images = ChangeLog.crashPoints(entries);
            int stride = Math.max(1, images.size() / 100);
            Path crashed = dir.resolve("crashed.qcow2");
            int checked = 0;
            for (int n = 0; n < images.size(); n += stride) {
                ChangeLog.CrashPoint ci = images.get(n);
                int k = ci.after();
                int flushedSlots = 0;
                for (int j = 0; j < marks.size(); j++) {
                    if (marks.get(j) <= k) {
                        flushedSlots = Math.min(slots, (j + 1) * 4);
                    }
                }
                String what = "clusters " + v[0] + ": " + ci.name() + " of " + entries.size();
                Files.write(crashed, ci.bytes(initial, entries));
                // the backing file sits beside the original; the crashed copy names it relative to itself
                qemuCheckNoCorruption(crashed, what);
                byte[] contents;
                try (BlockDevice d = devices.open("file://" + crashed, OpenOptions.readOnlyOptions())) {
                    contents = Disks.read(d, 0, (int) size);
                }
                verifySlots(contents, below, s, flushedSlots, what);
                checked++;
            }
            System.out.println("power cuts, clusters " + v[0] + ": " + entries.size() + " changes, " + images.size()
                    + " crash states, " + checked + " checked");
            assertTrue(checked >= 100 || checked == images.size(), "crash states checked: " + checked);
            assertEquals(0, entries.size() == 0 ? 1 : 0);
        }
    }

    @Test
    void everyPowerCutDuringDiscardAndZeroingLeavesAValidImage() throws Exception {
        int cs = 4096;
        int slots = 16;
        long size = (long) slots * SLOT;
        WriteSchedule model9 = slots(9, slots, slots);
        for (boolean withBacking : new boolean[]{false, true}) {
            byte[] below = new byte[(int) size];
            if (withBacking) {
                new Random(5).nextBytes(below);
            }
            Path image = create("unmap" + withBacking + ".qcow2", size, cs, false, withBacking ? below : null);
            byte[] model = below.clone();
            try (BlockDevice d = devices.open("file://" + image)) {
                for (int i = 0; i < slots; i++) {
                    byte[] data = model9.bytes(i);
                    Disks.write(d, (long) i * SLOT, data);
                    System.arraycopy(data, 0, model, i * SLOT, data.length);
                }
            }
            byte[] initial = Files.readAllBytes(image);
            ChangeLog log = new ChangeLog(FileDevice.open(image.toString(), false, false));
            // even slots: discarded (whole clusters, and a partial piece); odd ones from 3: write-zeroes
            try (BlockDevice d = Qcow2Opener.open(log, DeviceUri.parse("file://" + image), false, devices)) {
                for (int i = 0; i < slots; i += 2) {
                    d.discard((long) i * SLOT + 512, SLOT - 512, false).join();
                }
                for (int i = 3; i < slots; i += 4) {
                    d.writeZeroes((long) i * SLOT, SLOT, true).join();
                }
                d.flush().join();
            }
            List<ChangeLog.Entry> entries = log.entries();
            List<ChangeLog.CrashPoint> points = ChangeLog.crashPoints(entries);
            int stride = Math.max(1, points.size() / 100);
            Path crashed = dir.resolve("unmapped.qcow2");
            for (int n = 0; n < points.size(); n += stride) {
                ChangeLog.CrashPoint cp = points.get(n);
                String what = (withBacking ? "with backing file: " : "") + cp.name() + " of " + entries.size();
                Files.write(crashed, cp.bytes(initial, entries));
                qemuCheckNoCorruption(crashed, what);
                byte[] got;
                try (BlockDevice d = devices.open("file://" + crashed, OpenOptions.readOnlyOptions())) {
                    got = Disks.read(d, 0, (int) size);
                }
                for (int sec = 0; sec < size; sec += 512) {
                    int slot = sec / SLOT;
                    boolean changed = slot % 2 == 0 ? sec % SLOT != 0 : slot % 4 == 3;
                    boolean old = Arrays.equals(got, sec, sec + 512, model, sec, sec + 512);
                    boolean zero = Arrays.equals(got, sec, sec + 512, new byte[512], 0, 512);
                    // a discard promises nothing but never brings back older data than what was written
                    assertTrue(old || changed && zero, what + ": sector " + sec + " holds neither its data"
                            + (changed ? " nor zeroes" : ""));
                }
            }
            qemuCheckNoCorruption(image, "after discards");
            Cmd c = Cmd.run(qemuImg(), "check", "-f", "qcow2", image.toString());
            assertEquals(0, c.exit(), "no leaks after a clean run: " + c.output());
        }
    }
}
