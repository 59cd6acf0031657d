package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.vhd.Cmd;
import io.tapdisk4j.vhd.Disks;
import io.tapdisk4j.vhd.VdiInfo;
import io.tapdisk4j.vhd.VdiOperations;
import io.tapdisk4j.vhd.VdiProgress;
import io.tapdisk4j.vhd.VhdChecker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static io.tapdisk4j.qcow2.Qcow2QemuInteropTest.qemuCheck;
import static io.tapdisk4j.qcow2.Qcow2QemuInteropTest.qemuImg;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every {@code vdi} operation on qcow2 images, checked against a raw model and by qemu-img. */
@Timeout(300)
class Qcow2VdiTest {

    @TempDir
    Path dir;

    final BlockDevices devices = BlockDevices.loadDefault();
    final VdiOperations vdi = new VdiOperations(devices);

    String uri(String name) {
        return "file://" + dir.resolve(name);
    }

    void assertImage(String uri, byte[] model) throws Exception {
        Disks.assertImage(vdi, uri, model);
        Path p = Path.of(uri.substring("file://".length()));
        qemuCheck(p);
        Path raw = dir.resolve("model-" + p.getFileName() + ".raw");
        Files.write(raw, model);
        Cmd.run(qemuImg(), "compare", "-f", "qcow2", "-F", "raw", p.toString(), raw.toString()).ok();
    }

    @Test
    void createInfoSnapshotCloneCoalesceResize() throws Exception {
        String top = uri("disk.qcow2");
        vdi.create(top, 64L << 20, "qcow2", false);
        VdiInfo info = vdi.info(top);
        assertEquals("qcow2", info.format());
        assertEquals(64L << 20, info.virtualSize());
        assertEquals(0, info.allocated());
        assertEquals(65536, info.blockSize());
        byte[] model = new byte[64 << 20];
        try (BlockDevice d = devices.open(top)) {
            Disks.scribble(d, model, new Random(1), 100, 200_000, true);
        }
        assertImage(top, model);

        String parent = vdi.snapshot(top);
        assertTrue(parent.endsWith(".qcow2"), parent);
        assertEquals(List.of(top, parent), vdi.info(top).chain());
        Cmd qinfo = Cmd.run(qemuImg(), "info", "--backing-chain", dir.resolve("disk.qcow2").toString()).ok();
        assertTrue(qinfo.output().contains("backing file format: qcow2"), qinfo.output());
        byte[] parentModel = model.clone();
        try (BlockDevice d = devices.open(top)) {
            Disks.scribble(d, model, new Random(2), 50, 200_000, false);
            d.writeZeroes(5 << 20, 1 << 20, true).join(); // zero clusters hide the parent's data
            Arrays.fill(model, 5 << 20, 6 << 20, (byte) 0);
            List<Extent> map = d.allocation(0, d.size()).join();
            assertTrue(map.stream().anyMatch(e -> e.zero() && !e.hole()), "zero clusters are allocated zeroes");
        }
        assertImage(top, model);
        assertImage(parent, parentModel);

        String clone = uri("clone.qcow2");
        vdi.clone(parent, clone);
        Disks.assertImage(vdi, clone, parentModel);

        // The clone shares the parent: a coalesce that does not name it is refused, one that does keeps it intact.
        BlockDeviceException refused = assertThrows(BlockDeviceException.class, () -> vdi.coalesce(top, VdiProgress.NONE));
        assertTrue(refused.getMessage().contains("clone.qcow2"), refused.getMessage());
        assertImage(parent, parentModel);
        vdi.coalesce(top, List.of(clone), VdiProgress.NONE);
        assertImage(top, model);
        assertImage(parent, model);
        Disks.assertImage(vdi, clone, parentModel);
        assertEquals(0, vdi.info(top).allocated(), "the child is empty after a coalesce");

        vdi.resize(top, 96L << 20);
        byte[] grown = Arrays.copyOf(model, 96 << 20);
        assertImage(top, grown);
        vdi.resize(top, 32L << 20, true);
        assertImage(top, Arrays.copyOf(model, 32 << 20));
        vdi.resize(top, 40L << 20);
        assertImage(top, Arrays.copyOf(Arrays.copyOf(model, 32 << 20), 40 << 20));
    }

    @Test
    void copyConvertsAVhdChainToQcow2AndBack() throws Exception {
        String base = uri("base.vhd");
        vdi.create(base, 48L << 20, "vhd", false);
        byte[] model = new byte[48 << 20];
        try (BlockDevice d = devices.open(base)) {
            Disks.scribble(d, model, new Random(3), 60, 300_000, true);
        }
        vdi.snapshot(base);
        try (BlockDevice d = devices.open(base)) {
            Disks.scribble(d, model, new Random(4), 60, 300_000, true);
        }
        String q = uri("converted.qcow2");
        vdi.copy(base, q, "qcow2", VdiProgress.NONE);
        assertImage(q, model);
        assertTrue(vdi.info(q).allocated() < model.length, "thin");
        String back = uri("back.vhd");
        vdi.copy(q, back, "vhd", VdiProgress.NONE);
        Disks.assertImage(vdi, back, model);
    }

    @Test
    void dataBeyondTwoTebibytesInAFourTebibyteImage() throws Exception {
        String big = uri("big.qcow2");
        long size = 4L << 40;
        vdi.create(big, size, "qcow2", false);
        long[] at = {0, (2L << 40) - 4096, (2L << 40) + 65536, (3L << 40) + 12345 * 512L, size - 65536};
        byte[][] data = new byte[at.length][];
        try (BlockDevice d = devices.open(big)) {
            assertEquals(size, d.size());
            for (int i = 0; i < at.length; i++) {
                data[i] = new byte[65536];
                Arrays.fill(data[i], (byte) (0x10 + i)); // a pattern qemu-io can check
                Disks.write(d, at[i], data[i]);
            }
        }
        try (BlockDevice d = devices.open(big, OpenOptions.readOnlyOptions())) {
            for (int i = 0; i < at.length; i++) {
                assertTrue(Arrays.equals(data[i], Disks.read(d, at[i], 65536)), "data at " + at[i]);
            }
            List<Extent> map = d.allocation((2L << 40) + (1L << 30), 1L << 30).join();
            assertTrue(map.getFirst().hole(), "untouched space beyond 2 TiB is a hole");
        }
        Path p = dir.resolve("big.qcow2");
        qemuCheck(p);
        assertTrue(Files.size(p) < (16L << 20), "thin: " + Files.size(p));
        for (int i = 0; i < at.length; i++) {
            Cmd.run(Qcow2QemuInteropTest.qemuIo(), "-f", "qcow2", "-r", "-c",
                    "read -P " + (0x10 + i) + " " + at[i] + " 65536", p.toString()).ok();
        }
        Cmd.run(Qcow2QemuInteropTest.qemuIo(), "-f", "qcow2", "-r", "-c", "read -P 0 " + (3L << 40) + " 65536",
                p.toString()).ok();
        VhdChecker.Result r = vdi.check(big);
        assertTrue(r.ok(), r.toString());
        try {
            vdi.create(uri("huge.qcow2"), 65L << 40, "qcow2", false);
            throw new AssertionError("65 TiB accepted");
        } catch (io.tapdisk4j.block.BlockDeviceException e) {
            assertTrue(e.getMessage().contains("64 TiB"), e.getMessage());
        }
        vdi.create(uri("max.qcow2"), 64L << 40, "qcow2", false);
        assertNotNull(vdi.info(uri("max.qcow2")));
    }

    @Test
    void qemuMadeChainsReadIdentically() throws Exception {
        Path raw = dir.resolve("base.raw");
        byte[] base = new byte[32 << 20];
        new Random(9).nextBytes(base);
        Files.write(raw, base);
        Path vhd = dir.resolve("mid.vhd");
        Cmd.run(qemuImg(), "convert", "-f", "raw", "-O", "vpc", raw.toString(), vhd.toString()).ok();
        for (String[] backing : new String[][]{{"base.raw", "raw"}, {"mid.vhd", "vpc"}, {raw.toString(), "raw"}}) {
            Path mid = dir.resolve("mid-" + backing[1] + ".qcow2");
            Files.deleteIfExists(mid);
            Cmd.run(qemuImg(), "create", "-f", "qcow2", "-b", backing[0], "-F", backing[1], mid.toString()).ok();
            Qcow2QemuInteropTest.qemuWrites(mid, "write -P 0x42 1M 100k", "write -z 4M 1M", "discard 8M 64k");
            Path top = dir.resolve("top-" + backing[1] + ".qcow2");
            Files.deleteIfExists(top);
            Cmd.run(qemuImg(), "create", "-f", "qcow2", "-o", "extended_l2=on", "-b", mid.getFileName().toString(),
                    "-F", "qcow2", top.toString()).ok();
            Qcow2QemuInteropTest.qemuWrites(top, "write -P 0x43 1000k 8k", "write -P 0x44 6M 2k", "write -z 12M 64k");
            Path out = dir.resolve("chain.raw");
            Files.deleteIfExists(out);
            Cmd.run(qemuImg(), "convert", "-O", "raw", top.toString(), out.toString()).ok();
            byte[] expected = Files.readAllBytes(out);
            try (BlockDevice d = devices.open("file://" + top, OpenOptions.readOnlyOptions())) {
                Disks.assertSame(expected, d, "chain over " + backing[1]);
            }
            // and written through tapdisk4j, then compared by QEMU
            byte[] model = expected.clone();
            try (BlockDevice d = devices.open("file://" + top)) {
                assertInstanceOf(Qcow2Device.class, d);
                Disks.scribble(d, model, new Random(5), 40, 100_000, false);
            }
            qemuCheck(top);
            Files.write(out, model);
            Cmd.run(qemuImg(), "compare", "-F", "raw", top.toString(), out.toString()).ok();
        }
    }

    @Test
    void lazyRefcountsAndTheDirtyBitAreHandledAsQemuDoes() throws Exception {
        Path q = dir.resolve("lazy.qcow2");
        Cmd.run(qemuImg(), "create", "-f", "qcow2", "-o", "lazy_refcounts=on", q.toString(), "16M").ok();
        Qcow2QemuInteropTest.qemuWrites(q, "write -P 0x61 0 1M");
        // a QEMU that died with lazy refcounts leaves the dirty bit and refcounts behind the L2 tables
        byte[] h = Files.readAllBytes(q);
        h[79] |= 1;
        try (var ch = java.nio.channels.FileChannel.open(q, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[]{h[79]}), 79);
            // forget the refcounts of the data clusters (cluster 5 onwards) as a crash could
            long refblock = java.nio.ByteBuffer.wrap(h).getLong((int) java.nio.ByteBuffer.wrap(h).getLong(48));
            ch.write(java.nio.ByteBuffer.wrap(new byte[64]), refblock + 10);
        }
        assertFalse(vdi.check("file://" + q).warnings().isEmpty(), "dirty is reported");
        byte[] model = new byte[16 << 20];
        Arrays.fill(model, 0, 1 << 20, (byte) 0x61);
        try (BlockDevice d = devices.open("file://" + q)) {
            Disks.write(d, 2 << 20, new byte[]{1, 2, 3});
            model[2 << 20] = 1;
            model[(2 << 20) + 1] = 2;
            model[(2 << 20) + 2] = 3;
        }
        assertEquals(0, Files.readAllBytes(q)[79] & 1, "the dirty bit is cleared");
        assertImage("file://" + q, model);
    }
}
