package io.tapdisk4j.app;

import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The vdi commands on qcow2 as a user types them: a 4 TiB disk, a snapshot, a VHD converted, a damaged image. */
@Timeout(120)
class VdiQcow2CommandTest {

    @TempDir
    Path dir;

    /** Runs {@code Main} with stdout and stderr captured; returns exit status and both outputs. */
    record Result(int exit, String out) {
    }

    static Result run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream p = new PrintStream(buf, true, StandardCharsets.UTF_8);
        System.setOut(p);
        System.setErr(p);
        try {
            int exit = Main.run(args);
            return new Result(exit, buf.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    static String qemu(String... args) throws Exception {
        Process p = new ProcessBuilder(args).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    void everyVdiCommandWorksOnQcow2() throws Exception {
        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        String disk = "file://" + dir.resolve("big.qcow2");
        assertEquals(0, run("vdi", "create", disk, "--size", "4T", "--format", "qcow2").exit());
        Result info = run("vdi", "info", disk, "--json");
        assertEquals(0, info.exit());
        assertTrue(info.out().contains("\"format\":\"qcow2\"") && info.out().contains("\"virtual-size\":4398046511104"),
                info.out());
        assertEquals(0, run("vdi", "check", disk).exit());
        Result snap = run("vdi", "snapshot", disk);
        assertEquals(0, snap.exit(), snap.out());
        assertEquals(0, run("vdi", "resize", disk, "--size", "5T").exit());
        assertTrue(qemu(qemuImg, "info", dir.resolve("big.qcow2").toString()).contains("5 TiB"));
        assertEquals(0, run("vdi", "coalesce", disk).exit());
        assertEquals(0, run("vdi", "check", disk).exit());

        String vhd = "file://" + dir.resolve("old.vhd");
        assertEquals(0, run("vdi", "create", vhd, "--size", "1G", "--format", "vhd").exit());
        String converted = "file://" + dir.resolve("converted.qcow2");
        assertEquals(0, run("vdi", "copy", vhd, converted, "--format", "qcow2").exit());
        qemu(qemuImg, "check", dir.resolve("converted.qcow2").toString());

        Result tooBig = run("vdi", "create", "file://" + dir.resolve("x.qcow2"), "--size", "65T", "--format", "qcow2");
        assertNotEquals(0, tooBig.exit());
        assertTrue(tooBig.out().contains("64 TiB"), tooBig.out());
    }

    @Test
    void aDamagedImageGetsOneClearErrorAndNoStackTrace() throws Exception {
        Path p = dir.resolve("bad.qcow2");
        assertEquals(0, run("vdi", "create", "file://" + p, "--size", "1G", "--format", "qcow2").exit());
        byte[] b = Files.readAllBytes(p);
        b[75] = 0x40; // an unknown incompatible feature bit
        Files.write(p, b);
        Result r = run("vdi", "info", "file://" + p);
        assertNotEquals(0, r.exit());
        assertTrue(r.out().contains("incompatible feature"), r.out());
        assertFalse(r.out().contains("\tat ") || r.out().contains("Exception"), r.out());
    }
}
