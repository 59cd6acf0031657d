package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.block.local.FileDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code vdi resize}: shrinking only when asked, for raw, fixed, dynamic and differencing images, against raw
 * models and QEMU; a shrink crashed at every point leaves a valid image with the data below the new end.
 */
class VhdResizeTest {

    static final long SIZE = 20L << 20;
    /** Inside the fourth 2 MiB block, so its kept part and the six blocks after it are cut. */
    static final long SMALLER = (7L << 20) + 3 * 512;

    @TempDir
    Path dir;

    final BlockDevices devices = BlockDevices.loadDefault();
    final VdiOperations vdi = new VdiOperations(devices);

    String uri(String name) {
        return "file://" + dir.resolve(name);
    }

    /** A piece written into every block in order (so blocks lie in the file in disk order), then random writes. */
    byte[] filled(String uri, long size, long seed) throws Exception {
        byte[] model = new byte[(int) size];
        try (BlockDevice d = devices.open(uri)) {
            fill(d, model, seed);
        }
        return model;
    }

    static void fill(BlockDevice d, byte[] model, long seed) {
        Random r = new Random(seed);
        for (int at = 4096; at < model.length; at += 2 << 20) {
            byte[] piece = new byte[65536];
            r.nextBytes(piece);
            Disks.write(d, at, piece);
            System.arraycopy(piece, 0, model, at, piece.length);
        }
        Disks.scribble(d, model, r, 40, 400_000, true);
    }

    void assertContents(String uri, byte[] model) throws Exception {
        Disks.assertImage(vdi, uri, model);
    }

    /** QEMU reads the image as the model, and sizes it the same. */
    void qemuAgrees(Path image, byte[] model) throws Exception {
        Path raw = dir.resolve("model.raw");
        Files.write(raw, model);
        VhdQemuInteropTest.qemuCheck(image);
        Cmd.run(VhdQemuInteropTest.qemuImg(), "compare", "-f", "vpc", "-F", "raw", image.toString(), raw.toString()).ok();
        Cmd info = Cmd.run(VhdQemuInteropTest.qemuImg(), "info", "-f", "vpc", "--output=json", image.toString()).ok();
        assertTrue(info.output().contains("\"virtual-size\": " + model.length), info.output());
    }

    @Test
    void shrinkingIsRefusedUnlessAskedFor() throws Exception {
        for (String format : new String[]{"raw", "vhd"}) {
            String u = uri("refuse." + format);
            vdi.create(u, SIZE, format, false);
            BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> vdi.resize(u, SMALLER));
            assertEquals(BlockError.EINVAL, e.error());
            assertTrue(e.getMessage().contains("--shrink"), e.getMessage());
            assertEquals(SIZE, vdi.info(u).virtualSize());
        }
    }

    @Test
    void rawShrinksByTruncating() throws Exception {
        String u = uri("r.raw");
        vdi.create(u, SIZE, "raw", false);
        byte[] m = filled(u, SIZE, 1);
        vdi.resize(u, SMALLER, true);
        assertEquals(SMALLER, Files.size(dir.resolve("r.raw")));
        assertArrayEquals(Arrays.copyOf(m, (int) SMALLER), Files.readAllBytes(dir.resolve("r.raw")));
    }

    @Test
    void fixedShrinks() throws Exception {
        String u = uri("f.vhd");
        vdi.create(u, 8L << 20, "vhd", true);
        byte[] m = filled(u, 8L << 20, 2);
        long smaller = (5L << 20) + 512;
        vdi.resize(u, smaller, true);
        assertEquals(smaller + 512, Files.size(dir.resolve("f.vhd")));
        byte[] cut = Arrays.copyOf(m, (int) smaller);
        assertContents(u, cut);
        qemuAgrees(dir.resolve("f.vhd"), cut);
    }

    @Test
    void dynamicShrinkDropsBlocksAndRegrowsWithZeroes() throws Exception {
        String u = uri("d.vhd");
        vdi.create(u, SIZE, "vhd", false);
        byte[] m = filled(u, SIZE, 3);
        long before = Files.size(dir.resolve("d.vhd"));
        vdi.resize(u, SMALLER, true);
        byte[] cut = Arrays.copyOf(m, (int) SMALLER);
        assertContents(u, cut);
        try (BlockDevice d = devices.open(u, OpenOptions.readOnlyOptions())) {
            VhdDevice v = (VhdDevice) d;
            assertEquals(4, v.header().maxTableEntries(), "one BAT entry per block of the new size");
            assertTrue(v.allocatedBlocks() <= 4, "blocks beyond the end dropped");
        }
        assertTrue(Files.size(dir.resolve("d.vhd")) < before, "the file gave back the space of dropped blocks");
        qemuAgrees(dir.resolve("d.vhd"), cut);

        vdi.resize(u, SIZE);
        byte[] regrown = Arrays.copyOf(cut, (int) SIZE);
        assertContents(u, regrown);
        qemuAgrees(dir.resolve("d.vhd"), regrown);
    }

    @Test
    void differencingShrinkAndRegrowNeverShowTheParent() throws Exception {
        String parent = uri("p.vhd");
        vdi.create(parent, SIZE, "vhd", false);
        byte[] mp = filled(parent, SIZE, 4);
        String child = uri("c.vhd");
        vdi.clone(parent, child);
        byte[] mc = mp.clone();
        try (BlockDevice d = devices.open(child)) {
            fill(d, mc, 5);
        }
        vdi.resize(child, SMALLER, true);
        byte[] cut = Arrays.copyOf(mc, (int) SMALLER);
        assertContents(child, cut);
        vdi.resize(child, SIZE);
        assertContents(child, Arrays.copyOf(cut, (int) SIZE));
        assertContents(parent, mp);
    }

    @Test
    void everyCrashPointOfADynamicShrinkLeavesAValidImage() throws Exception {
        String u = uri("crash-d.vhd");
        vdi.create(u, SIZE, "vhd", false);
        byte[] m = filled(u, SIZE, 6);
        crashWhileShrinking(u, m, true);
    }

    @Test
    void everyCrashPointOfADifferencingShrinkLeavesAValidImage() throws Exception {
        String parent = uri("crash-p.vhd");
        vdi.create(parent, SIZE, "vhd", false);
        byte[] mp = filled(parent, SIZE, 7);
        String child = uri("crash-c.vhd");
        vdi.clone(parent, child);
        byte[] mc = mp.clone();
        try (BlockDevice d = devices.open(child)) {
            fill(d, mc, 8);
        }
        crashWhileShrinking(child, mc, false); // QEMU has no differencing VHDs
    }

    /**
     * Shrinks {@code u} through a {@link ChangeLog}, then rebuilds the file as a crash after every change could
     * have left it: each must pass {@code vdi check}, have the old size or the new, hold the model below the
     * new end, and (dynamic) read the same through QEMU.
     */
    void crashWhileShrinking(String u, byte[] model, boolean qemu) throws Exception {
        Path image = Path.of(DeviceUri.parse(u).path());
        byte[] initial = Files.readAllBytes(image);
        ChangeLog log = new ChangeLog(FileDevice.open(image.toString(), false, false));
        try (VhdDevice v = VhdOpener.open(log, DeviceUri.parse(u), false, devices)) {
            v.resizeSync(SMALLER, true);
        }
        List<ChangeLog.Entry> entries = log.entries();
        assertTrue(entries.stream().anyMatch(e -> e instanceof ChangeLog.Resize), "the file was truncated");
        byte[] cut = Arrays.copyOf(model, (int) SMALLER);
        assertContents(u, cut);
        List<ChangeLog.CrashImage> images = ChangeLog.crashImages(initial, entries);
        Path crashed = image.resolveSibling("crashed.vhd"); // beside it: the parent locators still resolve
        String crashedUri = "file://" + crashed;
        for (ChangeLog.CrashImage ci : images) {
            Files.write(crashed, ci.bytes());
            String what = ci.name() + " of " + entries.size();
            VhdChecker.Result r = vdi.check(crashedUri);
            assertTrue(r.ok(), what + ": vdi check: " + r);
            byte[] ours;
            try (BlockDevice d = devices.open(crashedUri, OpenOptions.readOnlyOptions())) {
                assertTrue(d.size() == SMALLER || d.size() == SIZE, what + ": size " + d.size());
                ours = Disks.read(d, 0, (int) d.size());
            }
            int mismatch = Arrays.mismatch(ours, 0, (int) SMALLER, cut, 0, (int) SMALLER);
            assertEquals(-1, mismatch, what + ": data below the new end differs at byte " + mismatch);
            if (qemu) {
                Path raw = dir.resolve("crashed.raw");
                Files.deleteIfExists(raw);
                Cmd.run(VhdQemuInteropTest.qemuImg(), "convert", "-f", "vpc", "-O", "raw", crashed.toString(),
                        raw.toString()).ok();
                assertArrayEquals(ours, Files.readAllBytes(raw), what + ": QEMU reads it differently");
            }
        }
        System.out.println("shrink: " + entries.size() + " changes, " + images.size() + " crash states checked");
    }
}
