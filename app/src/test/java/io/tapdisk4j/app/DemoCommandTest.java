package io.tapdisk4j.app;

import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The README's run command, in-process: every stage reached, data verified, and the VDI left valid. */
class DemoCommandTest {

    @TempDir
    Path dir;

    @Test
    void demoAttachesAGuestRunsAVerifiedWorkloadExportsAndStopsCleanly() throws Exception {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream original = System.out;
        int status;
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            status = Main.run("demo", "--exit", "--seconds", "1", "--size", "256M",
                    "--dir", dir.toString());
        } finally {
            System.setOut(original);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, out);
        assertTrue(out.contains("connected as xvda"), out);
        assertTrue(out.contains("0 errors, 0 blocks failed verification"), out);
        assertTrue(out.contains("nbd://127.0.0.1:"), out);
        // By default the export takes a free port, not NBD's standard one (a real NBD server's).
        assertTrue(!out.contains("nbd://127.0.0.1:10809/"), out);
        // --exit stops at once: it does not invite the user to try commands in another terminal.
        assertTrue(!out.contains("another terminal"), out);
        assertTrue(out.contains("tapdisk4j demo stopped."), out);
        Path vhd = dir.resolve("sr/demo.vhd");
        assertTrue(Files.size(vhd) > 256 << 10, "the guest's writes allocated blocks");
        // The image the guest wrote through the ring server is one QEMU reads.
        Process p = new ProcessBuilder(Peers.require("qemu-img", "qemu-utils"), "info", "-f", "vpc", vhd.toString())
                .redirectErrorStream(true).start();
        String info = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), info);
        assertTrue(info.contains("256 MiB"), info);
        assertEquals(0, Main.run("vdi", "check", "file://" + vhd), "vdi check accepts the demo's image");
    }
}
