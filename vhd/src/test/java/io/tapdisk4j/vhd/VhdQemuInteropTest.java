package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.util.concurrent.TimeUnit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** VHDs move between QEMU and tapdisk4j both ways with the same contents. */
class VhdQemuInteropTest {

    @TempDir
    Path dir;

    static String qemuImg() {
        return Peers.require("qemu-img", "qemu-utils");
    }

    static String qemuIo() {
        return Peers.require("qemu-io", "qemu-utils");
    }

    /** qemu-img check has no checker for vpc in QEMU 7.2: it must then say so, else report no errors. */
    static void qemuCheck(Path image) throws Exception {
        Cmd c = Cmd.run(qemuImg(), "check", "-f", "vpc", image.toString());
        assertTrue(c.exit() == 0 || (c.exit() == 63 && c.output().contains("does not support checks")),
                "qemu-img check: " + c);
    }

    @Test
    void qemuWrittenImageReadsBackIdentically() throws Exception {
        Path vhd = dir.resolve("q.vhd");
        Cmd.run(qemuImg(), "create", "-f", "vpc", "-o", "subformat=dynamic", vhd.toString(), "40M").ok();
        Cmd.run(qemuIo(), "-f", "vpc", "-c", "write -P 0x5a 1M 64k", "-c", "write -P 0x11 0 512",
                "-c", "write -P 0xc3 3000k 2M", "-c", "write -P 0x77 39M 300k", vhd.toString()).ok();
        Path raw = dir.resolve("q.raw");
        Cmd.run(qemuImg(), "convert", "-f", "vpc", "-O", "raw", vhd.toString(), raw.toString()).ok();
        byte[] expected = Files.readAllBytes(raw);
        try (BlockDevice d = BlockDevices.loadDefault().open("file://" + vhd)) {
            VhdDevice v = assertInstanceOf(VhdDevice.class, d);
            assertEquals(DiskType.DYNAMIC, v.diskType());
            assertEquals(expected.length, d.size());
            Disks.assertSame(expected, d, "qemu image through tapdisk4j");
            List<Extent> map = d.allocation(0, d.size()).orTimeout(1, TimeUnit.MINUTES).join();
            assertFalse(map.getFirst().hole(), "block 0 was written by qemu");
            assertTrue(map.stream().anyMatch(Extent::hole), "untouched blocks are holes");
        }
    }

    @Test
    void tapdiskWrittenImagePassesQemu() throws Exception {
        Path vhd = dir.resolve("t.vhd");
        long size = 48L << 20;
        byte[] model = new byte[(int) size];
        try (BlockDevice d = BlockDevices.loadDefault().create(DeviceUri.parse("file://" + vhd), size, "vhd")) {
            assertInstanceOf(VhdDevice.class, d);
            Disks.scribble(d, model, new Random(42), 200, 300_000, true);
            Disks.scribble(d, model, new Random(43), 20, 3000, false);
            Disks.assertSame(model, d, "before close");
        }
        Path raw = dir.resolve("model.raw");
        Files.write(raw, model);
        qemuCheck(vhd);
        Cmd.run(qemuImg(), "compare", "-f", "vpc", "-F", "raw", vhd.toString(), raw.toString()).ok();
        Cmd info = Cmd.run(qemuImg(), "info", "-f", "vpc", "--output=json", vhd.toString()).ok();
        assertTrue(info.output().contains("\"virtual-size\": " + size), info.output());
        // and back: qemu writes into our image, we read qemu's result
        Cmd.run(qemuIo(), "-f", "vpc", "-c", "write -P 0xee 10M 1M", vhd.toString()).ok();
        java.util.Arrays.fill(model, 10 << 20, 11 << 20, (byte) 0xee);
        try (BlockDevice d = BlockDevices.loadDefault().open("file://" + vhd)) {
            Disks.assertSame(model, d, "after qemu wrote into our image");
        }
    }

    @Test
    void tapdiskWritesIntoQemuImage() throws Exception {
        Path vhd = dir.resolve("q2.vhd");
        Cmd.run(qemuImg(), "create", "-f", "vpc", "-o", "subformat=dynamic", vhd.toString(), "20M").ok();
        Cmd.run(qemuIo(), "-f", "vpc", "-c", "write -P 0x42 0 1M", vhd.toString()).ok();
        byte[] model;
        try (BlockDevice d = BlockDevices.loadDefault().open("file://" + vhd)) {
            model = Disks.read(d, 0, (int) d.size());
            Disks.scribble(d, model, new Random(7), 60, 200_000, true);
        }
        Path raw = dir.resolve("m.raw");
        Files.write(raw, model);
        qemuCheck(vhd);
        Cmd.run(qemuImg(), "compare", "-f", "vpc", "-F", "raw", vhd.toString(), raw.toString()).ok();
    }

    @Test
    void fixedImagesBothWays() throws Exception {
        Path vhd = dir.resolve("f.vhd");
        Cmd.run(qemuImg(), "create", "-f", "vpc", "-o", "subformat=fixed", vhd.toString(), "8M").ok();
        Cmd.run(qemuIo(), "-f", "vpc", "-c", "write -P 0x99 4k 8k", vhd.toString()).ok();
        byte[] model;
        try (BlockDevice d = BlockDevices.loadDefault().open("file://" + vhd)) {
            VhdDevice v = assertInstanceOf(VhdDevice.class, d);
            assertEquals(DiskType.FIXED, v.diskType());
            model = Disks.read(d, 0, (int) d.size());
            assertEquals((byte) 0x99, model[4096]);
            Disks.scribble(d, model, new Random(3), 30, 100_000, true);
        }
        Path raw = dir.resolve("f.raw");
        Files.write(raw, model);
        Cmd.run(qemuImg(), "compare", "-f", "vpc", "-F", "raw", vhd.toString(), raw.toString()).ok();
        Path ours = dir.resolve("ours-fixed.vhd");
        try (BlockDevice t = BlockDevices.loadDefault().create(DeviceUri.parse("file://" + ours), 0, null)) {
            VhdCreator.createFixed(t, 4 << 20);
        }
        try (BlockDevice d = BlockDevices.loadDefault().open("file://" + ours)) {
            Disks.write(d, 512, new byte[]{1, 2, 3, 4, 5, 6, 7, 8});
        }
        Path oursRaw = dir.resolve("ours.raw");
        Cmd.run(qemuImg(), "convert", "-f", "vpc", "-O", "raw", ours.toString(), oursRaw.toString()).ok();
        byte[] got = Files.readAllBytes(oursRaw);
        assertEquals(4 << 20, got.length);
        byte[] head = java.util.Arrays.copyOfRange(got, 512, 520);
        byte[] prefix = {1, 2, 3, 4, 5, 6, 7, 8};
        assertArrayEquals(prefix, head);
    }

    @Test
    void geometryMatchesQemuForManySizes() throws Exception {
        for (String size : new String[]{"1M", "40M", "100M", "3G", "127G", "1000G", "2040G"}) {
            Path vhd = dir.resolve("g" + size + ".vhd");
            Cmd.run(qemuImg(), "create", "-f", "vpc", "-o", "subformat=dynamic", vhd.toString(), size).ok();
            byte[] footer = new byte[512];
            try (var f = new java.io.RandomAccessFile(vhd.toFile(), "r")) {
                f.readFully(footer);
            }
            VhdFooter parsed = VhdFooter.parse(footer, vhd.toString());
            assertEquals(parsed.geometry(), VhdFooter.geometry(parsed.currentSize()), "CHS geometry of " + size);
            Files.delete(vhd);
        }
    }
}
