package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.vhd.Cmd;
import io.tapdisk4j.vhd.Disks;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** qcow2 images move between QEMU and tapdisk4j both ways with the same contents. */
@Timeout(300)
class Qcow2QemuInteropTest {

    @TempDir
    Path dir;

    final BlockDevices devices = BlockDevices.loadDefault();

    static String qemuImg() {
        return Peers.require("qemu-img", "qemu-utils");
    }

    static String qemuIo() {
        return Peers.require("qemu-io", "qemu-utils");
    }

    /** qemu-img check: no errors, no leaks, no corruptions. */
    static void qemuCheck(Path image) throws Exception {
        Cmd c = Cmd.run(qemuImg(), "check", "-f", "qcow2", "--output=json", image.toString());
        assertEquals(0, c.exit(), "qemu-img check " + image + ": " + c.output());
        assertFalse(c.output().contains("\"leaks\""), "leaks: " + c.output());
        assertFalse(c.output().contains("\"corruptions\""), "corruptions: " + c.output());
    }

    /** The image's contents as QEMU reads them. */
    byte[] qemuRaw(Path image) throws Exception {
        Path raw = dir.resolve(image.getFileName() + ".out.raw");
        Cmd.run(qemuImg(), "convert", "-O", "raw", image.toString(), raw.toString()).ok();
        return Files.readAllBytes(raw);
    }

    void assertReadsLikeQemu(Path image) throws Exception {
        byte[] expected = qemuRaw(image);
        try (BlockDevice d = devices.open("file://" + image, OpenOptions.readOnlyOptions())) {
            assertInstanceOf(Qcow2Device.class, d);
            assertEquals(expected.length, d.size());
            Disks.assertSame(expected, d, image + " through tapdisk4j");
        }
    }

    static void qemuWrites(Path image, String... commands) throws Exception {
        String[] args = new String[commands.length * 2 + 3];
        args[0] = qemuIo();
        args[1] = "-f";
        args[2] = "qcow2";
        for (int i = 0; i < commands.length; i++) {
            args[3 + 2 * i] = "-c";
            args[4 + 2 * i] = commands[i];
        }
        String[] all = java.util.Arrays.copyOf(args, args.length + 1);
        all[args.length] = image.toString();
        Cmd.run(all).ok();
    }

    @Test
    void qemuWrittenImagesReadBackIdentically() throws Exception {
        for (String opts : new String[]{"cluster_size=65536", "cluster_size=512", "cluster_size=2M",
                "cluster_size=65536,extended_l2=on", "cluster_size=32768,extended_l2=on,refcount_bits=1",
                "compat=0.10"}) {
            Path q = dir.resolve("q-" + opts.replace(',', '_').replace('=', '-') + ".qcow2");
            Cmd.run(qemuImg(), "create", "-f", "qcow2", "-o", opts, q.toString(), "40M").ok();
            qemuWrites(q, "write -P 0x5a 1M 64k", "write -P 0x11 0 512", "write -P 0xc3 3000k 2M",
                    "write -P 0x77 39M 300k", "write -z 3M 1M", "write -P 0x21 5000 3000", "discard 3100k 64k");
            assertReadsLikeQemu(q);
            try (BlockDevice d = devices.open("file://" + q, OpenOptions.readOnlyOptions())) {
                List<Extent> map = d.allocation(0, d.size()).join();
                assertFalse(map.getFirst().hole(), opts + ": written by qemu");
                assertTrue(map.stream().anyMatch(Extent::hole), opts + ": untouched clusters are holes");
            }
        }
    }

    @Test
    void compressedImagesReadBackIdentically() throws Exception {
        Path src = dir.resolve("src.raw");
        byte[] data = new byte[24 << 20];
        Random r = new Random(1);
        for (int i = 0; i < data.length; i += 4096) {
            if (r.nextBoolean()) {
                byte[] text = ("block " + i + " of some compressible text ").repeat(100).getBytes();
                System.arraycopy(text, 0, data, i, Math.min(4096, text.length));
            }
        }
        Files.write(src, data);
        for (String cs : new String[]{"65536", "4096", "2M"}) {
            Path q = dir.resolve("c" + cs + ".qcow2");
            Cmd.run(qemuImg(), "convert", "-c", "-O", "qcow2", "-o", "cluster_size=" + cs, src.toString(),
                    q.toString()).ok();
            try (BlockDevice d = devices.open("file://" + q, OpenOptions.readOnlyOptions())) {
                Disks.assertSame(data, d, "compressed, clusters of " + cs);
            }
            // and written over: compressed clusters are copied on write, the old ones given back
            byte[] model = data.clone();
            try (BlockDevice d = devices.open("file://" + q)) {
                Disks.scribble(d, model, new Random(2), 60, 200_000, false);
                Disks.assertSame(model, d, "after writes");
            }
            qemuCheck(q);
            Path raw = dir.resolve("model" + cs + ".raw");
            Files.write(raw, model);
            Cmd.run(qemuImg(), "compare", "-f", "qcow2", "-F", "raw", q.toString(), raw.toString()).ok();
        }
    }

    @Test
    void tapdiskWrittenImagesPassQemu() throws Exception {
        for (int cs : new int[]{65536, 512, 2 << 20}) {
            for (boolean ext : new boolean[]{false, true}) {
                if (ext && cs < (16 << 10)) {
                    continue;
                }
                Path q = dir.resolve("t" + cs + ext + ".qcow2");
                long size = 48L << 20;
                byte[] model = new byte[(int) size];
                try (BlockDevice t = devices.provider(DeviceUri.parse("file://" + q)).create(DeviceUri.parse("file://" + q), 0)) {
                    Qcow2Creator.create(t, size, Qcow2Creator.Options.defaults().withClusterSize(cs).withExtendedL2(ext));
                }
                try (BlockDevice d = devices.open("file://" + q)) {
                    assertInstanceOf(Qcow2Device.class, d);
                    Disks.scribble(d, model, new Random(42), 200, 300_000, true);
                    Disks.scribble(d, model, new Random(43), 20, 3000, false);
                    d.writeZeroes(8 << 20, 4 << 20, true).join();
                    java.util.Arrays.fill(model, 8 << 20, 12 << 20, (byte) 0);
                    d.discard(20 << 20, 2 << 20, false).join();
                    java.util.Arrays.fill(model, 20 << 20, 22 << 20, (byte) 0);
                    Disks.assertSame(model, d, "before close");
                }
                Path raw = dir.resolve("model.raw");
                Files.write(raw, model);
                qemuCheck(q);
                Cmd.run(qemuImg(), "compare", "-f", "qcow2", "-F", "raw", q.toString(), raw.toString()).ok();
                // and back: qemu writes into our image, we read qemu's result
                qemuWrites(q, "write -P 0x99 7M 100k");
                assertReadsLikeQemu(q);
            }
        }
    }

    @Test
    void theRefcountTableGrowsWhenTheFileOutgrowsIt() throws Exception {
        // QEMU makes a one-cluster refcount table: with 512 B clusters it covers 8 MiB of file
        Path q = dir.resolve("grow.qcow2");
        Cmd.run(qemuImg(), "create", "-f", "qcow2", "-o", "cluster_size=512", q.toString(), "24M").ok();
        long before = java.nio.ByteBuffer.wrap(Files.readAllBytes(q)).getLong(48);
        byte[] model = new byte[24 << 20];
        new Random(7).nextBytes(model);
        try (BlockDevice d = devices.open("file://" + q)) {
            for (int off = 0; off < model.length; off += 1 << 20) {
                Disks.write(d, off, java.util.Arrays.copyOfRange(model, off, off + (1 << 20)));
            }
        }
        long after = java.nio.ByteBuffer.wrap(Files.readAllBytes(q)).getLong(48);
        assertTrue(after != before, "the refcount table moved");
        qemuCheck(q);
        Path raw = dir.resolve("grow.raw");
        Files.write(raw, model);
        Cmd.run(qemuImg(), "compare", "-f", "qcow2", "-F", "raw", q.toString(), raw.toString()).ok();
    }

    @Test
    void everyRefcountWidthAndVersionTwoTakeWrites() throws Exception {
        for (String opts : new String[]{"refcount_bits=1", "refcount_bits=2", "refcount_bits=8", "refcount_bits=64",
                "compat=0.10", "cluster_size=4096,refcount_bits=4"}) {
            Path q = dir.resolve("w-" + opts.replace(',', '_').replace('=', '-') + ".qcow2");
            Cmd.run(qemuImg(), "create", "-f", "qcow2", "-o", opts, q.toString(), "16M").ok();
            qemuWrites(q, "write -P 0x71 2M 128k");
            byte[] model = qemuRaw(q);
            try (BlockDevice d = devices.open("file://" + q)) {
                Disks.scribble(d, model, new Random(11), 40, 200_000, false);
                d.discard(4 << 20, 1 << 20, false).join(); // whole clusters, no backing file: zeroes
                java.util.Arrays.fill(model, 4 << 20, 5 << 20, (byte) 0);
                d.writeZeroes(2 << 20, 64 << 10, true).join();
                java.util.Arrays.fill(model, 2 << 20, (2 << 20) + (64 << 10), (byte) 0);
                Disks.assertSame(model, d, opts);
            }
            qemuCheck(q);
            byte[] seen = qemuRaw(q);
            assertTrue(java.util.Arrays.equals(model, seen), opts + ": QEMU reads what was written");
        }
    }
}
