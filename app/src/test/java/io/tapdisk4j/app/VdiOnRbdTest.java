package io.tapdisk4j.app;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.rbd.testing.CephCluster;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The command line on rbd://: vdi create, snapshot, clone, info and sr ls, and VHD/qcow2 images inside RBD images,
 * against a single-node Ceph cluster.
 */
@Timeout(300)
class VdiOnRbdTest {

    @Test
    void vdiCommandsAndSrLsOnAPool() throws Exception {
        CephCluster ceph = CephCluster.shared();
        String name = "app-" + ProcessHandle.current().pid();
        String uri = ceph.uri(name);
        assertEquals(0, Main.run("vdi", "create", uri, "--size", "40M"));
        String snapshot = run("vdi", "snapshot", uri);
        assertTrue(snapshot.contains("@snap-"), snapshot);
        String snapName = snapshot.substring(snapshot.indexOf("@snap-") + 1).split("[?\\s]")[0];
        assertTrue(ceph.rbd("snap", "ls", CephCluster.POOL + "/" + name).contains(snapName));
        assertEquals(0, Main.run("vdi", "clone", ceph.uri(name + "@" + snapName), ceph.uri(name + "-clone")));
        assertTrue(ceph.rbd("children", CephCluster.POOL + "/" + name + "@" + snapName).contains(name + "-clone"));
        assertEquals(0, Main.run("vdi", "resize", uri, "--size", "48M"));
        String info = run("vdi", "info", uri, "--json");
        assertTrue(info.contains("\"virtual-size\":50331648"), info);

        // sr ls: every image with its size; the keyring's secret appears nowhere.
        String keyring = Files.readString(ceph.keyring());
        String secret = keyring.substring(keyring.indexOf("key = ") + 6).trim().split("\\s")[0];
        String ls = run("sr", "ls", "rbd://admin@" + CephCluster.POOL + "?conf=" + ceph.conf() + "&keyring=" + ceph.keyring());
        assertTrue(ls.startsWith("NAME"), ls);
        assertTrue(ls.lines().anyMatch(l -> l.startsWith(name + " ") && l.contains(" 50331648 ")), ls);
        assertTrue(ls.lines().anyMatch(l -> l.startsWith(name + "-clone ") && l.contains(" 41943040 ")), ls);
        assertFalse(ls.contains(secret), "the cephx key leaked into the listing");

        // Errors are one clear line, with no key in them either.
        String err = runErr("sr", "ls", "rbd://admin@nopool?conf=" + ceph.conf());
        assertTrue(err.contains("pool 'nopool' does not exist"), err);
        assertFalse(err.contains(secret));
    }

    /**
     * VHD and qcow2 images stored inside an RBD image, as on any device: created, written and read through
     * tapdisk4j, snapshotted (an RBD snapshot of the whole container), and checked by QEMU from `rbd export`
     * and through its own rbd driver against a model of every byte.
     */
    @ParameterizedTest
    @ValueSource(strings = {"vhd", "qcow2"})
    void formatsInsideAnRbdImage(String format, @TempDir Path tmp) throws Exception {
        CephCluster ceph = CephCluster.shared();
        String name = "fmt-" + format + "-" + ProcessHandle.current().pid();
        String uri = ceph.uri(name);
        int size = 64 << 20;
        assertEquals(0, Main.run("vdi", "create", uri, "--format", format, "--size", "64M"));
        assertTrue(run("vdi", "info", uri, "--json").contains("\"format\":\"" + format + "\""));
        byte[] model = new byte[size];
        Random rnd = new Random(format.hashCode());
        BlockDevices devices = BlockDevices.loadDefault();
        try (BlockDevice d = devices.open(uri)) {
            assertEquals(size, d.size());
            writeRandom(d, model, rnd, 20);
        }
        byte[] atSnapshot = model.clone();
        String snapshot = run("vdi", "snapshot", uri).strip();
        String snapUri = snapshot.substring(snapshot.lastIndexOf("rbd://"));
        try (BlockDevice d = devices.open(uri)) {
            writeRandom(d, model, rnd, 20);
        }
        try (BlockDevice head = devices.open(uri, OpenOptions.readOnlyOptions());
             BlockDevice snap = devices.open(snapUri, OpenOptions.readOnlyOptions())) {
            assertArrayEquals(model, readAll(head), "the head reads the model");
            assertArrayEquals(atSnapshot, readAll(snap), "the snapshot reads the model as it was");
        }

        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        String qemuFormat = format.equals("vhd") ? "vpc" : format;
        Path raw = tmp.resolve("model.raw");
        Files.write(raw, model);
        Path exported = tmp.resolve("exported." + format);
        ceph.rbd("export", CephCluster.POOL + "/" + name, exported.toString());
        if (format.equals("qcow2")) {
            sh(qemuImg, "check", "-f", "qcow2", exported.toString());
        } else {
            assertEquals(0, Main.run("vdi", "check", "file://" + exported));
        }
        sh(qemuImg, "compare", "-f", qemuFormat, "-F", "raw", exported.toString(), raw.toString());
        sh(qemuImg, "compare", "-f", qemuFormat, "-F", "raw", ceph.qemu(name), raw.toString());
        Path old = tmp.resolve("old.raw");
        Files.write(old, atSnapshot);
        String snapName = snapUri.substring(0, snapUri.indexOf('?'));
        snapName = snapName.substring(snapName.lastIndexOf('@') + 1);
        sh(qemuImg, "compare", "-f", qemuFormat, "-F", "raw", ceph.qemu(name + "@" + snapName), old.toString());
    }

    private static void writeRandom(BlockDevice d, byte[] model, Random rnd, int count) throws Exception {
        for (int i = 0; i < count; i++) {
            int len = 512 * (1 + rnd.nextInt(600));
            long off = 512L * rnd.nextInt((model.length - len) / 512);
            byte[] data = new byte[len];
            rnd.nextBytes(data);
            d.write(off, Buffers.direct(len).writeBytes(data), i % 5 == 0).get(60, TimeUnit.SECONDS);
            System.arraycopy(data, 0, model, (int) off, len);
        }
        d.flush().get(60, TimeUnit.SECONDS);
    }

    private static byte[] readAll(BlockDevice d) throws Exception {
        byte[] out = new byte[(int) d.size()];
        for (int off = 0; off < out.length; off += 1 << 20) {
            ByteBuf b = d.read(off, 1 << 20).get(60, TimeUnit.SECONDS);
            try {
                b.readBytes(out, off, 1 << 20);
            } finally {
                b.release();
            }
        }
        return out;
    }

    private static void sh(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "timed out: " + String.join(" ", cmd));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + out);
    }

    private static String run(String... args) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, Main.run(args), String.join(" ", args));
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    private static String runErr(String... args) throws Exception {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            assertEquals(1, Main.run(args), String.join(" ", args));
        } finally {
            System.setErr(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }
}
