package io.tapdisk4j.app;

import io.netty.buffer.Unpooled;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.nbd.server.NbdExport;
import io.tapdisk4j.nbd.server.NbdServer;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 19: coalescing a child whose parent has another child (a clone) corrupted the clone. Now it is
 * refused, naming the clone; with --keep the clone first receives the parent's old data. QEMU reads the
 * clone (through an NBD export of it) to check that it reads the same as before.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class VdiCoalesceSiblingsTest {

    @TempDir
    Path dir;

    private final BlockDevices devices = BlockDevices.loadDefault();

    private String uri(String name) {
        return "file://" + dir.resolve(name);
    }

    private void fill(String uri, long offset, int length, int pattern) throws Exception {
        try (BlockDevice d = devices.open(DeviceUri.parse(uri), OpenOptions.DEFAULT)) {
            byte[] b = new byte[length];
            Arrays.fill(b, (byte) pattern);
            d.write(offset, Unpooled.wrappedBuffer(b), false).get(30, TimeUnit.SECONDS);
            d.flush().get(30, TimeUnit.SECONDS);
        }
    }

    /** Runs qemu-io commands on {@code uri} exported over NBD (QEMU reads no differencing VHD itself). */
    private String qemuIo(String uri, String... commands) throws Exception {
        try (BlockDevice d = devices.open(DeviceUri.parse(uri), OpenOptions.readOnlyOptions());
             NbdServer s = NbdServer.builder().export(new NbdExport("d", "test", d, true)).bindTcp("127.0.0.1", 0)) {
            List<String> cmd = new ArrayList<>(List.of(Peers.require("qemu-io", "qemu-utils"), "-r", "-f", "raw"));
            for (String c : commands) {
                cmd.add("-c");
                cmd.add(c);
            }
            cmd.add("nbd://127.0.0.1:" + s.port() + "/d");
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out);
            assertTrue(!out.contains("Pattern verification failed"), out);
            return out;
        }
    }

    private static int run(StringBuilder err, String... args) {
        PrintStream original = System.err;
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        System.setErr(new PrintStream(b, true, StandardCharsets.UTF_8));
        try {
            return Main.run(args);
        } finally {
            System.setErr(original);
            err.append(b.toString(StandardCharsets.UTF_8));
        }
    }

    @Test
    void coalesceRefusesWhileTheParentHasAnotherChildAndKeepsNamedClonesIntact() throws Exception {
        assertEquals(0, Main.run("vdi", "create", uri("base.vhd"), "--size", "16M", "--format", "vhd"));
        fill(uri("base.vhd"), 0, 4 << 20, 0x11);
        assertEquals(0, Main.run("vdi", "clone", uri("base.vhd"), uri("a.vhd")));
        assertEquals(0, Main.run("vdi", "clone", uri("base.vhd"), uri("b.vhd")));
        fill(uri("a.vhd"), 1 << 20, 1 << 20, 0x22);
        fill(uri("b.vhd"), 3 << 20, 64 << 10, 0x33);

        StringBuilder err = new StringBuilder();
        assertEquals(1, run(err, "vdi", "coalesce", uri("a.vhd")), err.toString());
        assertTrue(err.toString().contains("b.vhd") && err.toString().contains("other children"), err.toString());
        qemuIo(uri("b.vhd"), "read -P 0x11 1M 1M", "read -P 0x33 3M 64k");
        qemuIo(uri("a.vhd"), "read -P 0x22 1M 1M", "read -P 0x11 0 1M");

        err.setLength(0);
        assertEquals(1, run(err, "vdi", "coalesce", uri("a.vhd"), "--keep", uri("base.vhd")), err.toString());
        assertTrue(err.toString().contains("not another child"), err.toString());

        assertEquals(0, Main.run("vdi", "coalesce", uri("a.vhd"), "--keep", uri("b.vhd")));
        // The clone reads as it did; the parent (which QEMU opens directly) and the child hold the merge.
        qemuIo(uri("b.vhd"), "read -P 0x11 1M 1M", "read -P 0x33 3M 64k", "read -P 0x11 0 1M");
        qemuIo(uri("a.vhd"), "read -P 0x22 1M 1M", "read -P 0x11 0 1M");
        Process p = new ProcessBuilder(Peers.require("qemu-io", "qemu-utils"), "-r", "-f", "vpc",
                "-c", "read -P 0x22 1M 1M", "-c", "read -P 0x11 2M 2M", dir.resolve("base.vhd").toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(!out.contains("Pattern verification failed"), out);
        assertEquals(0, Main.run("vdi", "check", uri("b.vhd")));
    }
}
