package io.tapdisk4j.app;

import io.tapdisk4j.app.daemon.Daemon;
import io.tapdisk4j.app.daemon.DaemonOptions;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.cbt.CbtLog;
import io.tapdisk4j.block.cbt.ChangeTrackingDevice;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.xenbus.BlkfrontXenbus;
import io.tapdisk4j.ring.xenbus.Toolstack;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenstore.XsClient;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.testsupport.peers.Ganesha;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.BitSet;
import java.util.concurrent.TimeUnit;

import static io.tapdisk4j.app.CbtTest.bits;
import static io.tapdisk4j.app.CbtTest.cli;
import static io.tapdisk4j.app.CbtTest.freePort;
import static io.tapdisk4j.app.CbtTest.nbdinfoDirty;
import static io.tapdisk4j.app.CbtTest.ok;
import static io.tapdisk4j.app.CbtTest.sh;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Changed-block tracking of a VHD on an NFS SR (nfs-ganesha) with its log beside it on the SR, as XenServer
 * keeps {@code UUID.cbtlog} beside {@code UUID.vhd}: no {@code ?cbtlog=}. The log file is read straight from
 * the exported directory, so what the test sees is what the server stored: after each write is acknowledged
 * its bit is there; a clean close leaves the log consistent, SIGKILL inconsistent.
 */
@Timeout(300)
class CbtOnNfsTest {

    private static final int B = CbtLog.BLOCK_SIZE;

    @TempDir
    Path dir;

    @Test
    void everyPathMarksExactlyItsBlocksInTheLogBesideTheImageAndSigkillLeavesItInconsistent() throws Exception {
        try (Ganesha g = Ganesha.startStandalone()) {
            String uri = g.url("cbt.vhd", "");
            Path logFile = g.export().resolve("cbt.cbtlog");
            ok("vdi", "create", uri, "--size", "16M", "--format", "vhd");
            String[] on = ok("vdi", "cbt", "enable", uri);
            assertTrue(on[1].contains("cbt.cbtlog") && on[1].contains("nfs://"), on[1]);
            assertTrue(CbtLog.read(logFile).consistent(), "a new log is consistent");

            // The vdi commands' path: the registry every command opens images with.
            try (BlockDevice d = BlockDevices.loadDefault().open(uri)) {
                assertInstanceOf(ChangeTrackingDevice.class, d);
                assertFalse(CbtLog.read(logFile).consistent(), "inconsistent on the server while open");
                d.write(3L * B + 512, Buffers.direct(512).writeZero(512), false).get(30, TimeUnit.SECONDS);
                assertEquals(bits(3), CbtLog.read(logFile).bits(), "the bit is on the server when the write is acknowledged");
                d.writeZeroes(5L * B, 2L * B, false).get(30, TimeUnit.SECONDS);
                d.write(10L * B - 512, Buffers.direct(1024).writeZero(1024), true).get(30, TimeUnit.SECONDS);
                d.write(3L * B, Buffers.direct(4096).writeZero(4096), false).get(30, TimeUnit.SECONDS); // marked already
                assertEquals(bits(3, 5, 6, 9, 10), CbtLog.read(logFile).bits());
            }
            CbtLog closed = CbtLog.read(logFile);
            assertTrue(closed.consistent(), "a clean close restores the flag");
            assertEquals(bits(3, 5, 6, 9, 10), closed.bits());

            // A snapshot freezes the log beside the parent, on the SR too; the leaf starts a new one.
            String base = ok("vdi", "snapshot", uri)[1].replaceAll(".* is now a child of (\\S+)\\s*", "$1");
            assertTrue(base.startsWith("nfs://"), base);
            assertEquals(bits(3, 5, 6, 9, 10), CbtLog.read(g.export().resolve(
                    Path.of(base.replaceAll("\\?.*", "")).getFileName().toString().replaceAll("\\.vhd$", ".cbtlog"))).bits());
            assertEquals(new BitSet(), CbtLog.read(logFile).bits());

            ringServerWrites(uri, logFile);

            nbdExportWritesThenSigkill(uri, logFile);
            String[] st = ok("vdi", "cbt", "status", uri);
            assertTrue(st[1].contains("consistent: no"), st[1]);
            String[] changed = cli("vdi", "cbt", "changed", base, uri);
            assertEquals("2", changed[0], changed[1] + changed[2]);
            assertTrue(changed[2].contains("inconsistent"), changed[2]);
        }
    }

    private void ringServerWrites(String uri, Path logFile) throws Exception {
        Path sim = dir.resolve("sim");
        try (Daemon daemon = Daemon.start(DaemonOptions.sim(sim));
             XsClient xs = XsClient.connect(daemon.xenstoredSocket());
             SimGuest guest = SimGuest.create(sim, 3, 256, 1024)) {
            VbdId id = new VbdId(3, 768);
            Toolstack.createVbd(xs, id, uri, false);
            try (BlkfrontXenbus front = BlkfrontXenbus.connect(xs, guest, id, FrontendOptions.defaults(), Duration.ofSeconds(30));
                 GuestBuffer b = front.emulator().allocateBuffer(16)) {
                b.put(0, new byte[65536]);
                assertTrue(front.emulator().write(0, 2048, b, 0, 65536).get(30, TimeUnit.SECONDS).ok()); // block 16
                assertEquals(bits(16), CbtLog.read(logFile).bits(), "the bit is on the server before the guest's write completes");
                assertTrue(front.emulator().write(0, (3L * B - 2048) / 512, b, 0, 4096).get(30, TimeUnit.SECONDS).ok()); // 2, 3
                assertTrue(front.emulator().flush(0).get(30, TimeUnit.SECONDS).ok());
                assertEquals(bits(2, 3, 16), CbtLog.read(logFile).bits());
                assertFalse(CbtLog.read(logFile).consistent());
            }
        }
        CbtLog closed = CbtLog.read(logFile);
        assertTrue(closed.consistent(), "the daemon closed the device cleanly");
        assertEquals(bits(2, 3, 16), closed.bits());
    }

    private void nbdExportWritesThenSigkill(String uri, Path logFile) throws Exception {
        String qemuIo = Peers.require("qemu-io", "qemu-utils");
        int port = freePort();
        String java = ProcessHandle.current().info().command().orElse("java");
        Path out = dir.resolve("export.log");
        Process export = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), "io.tapdisk4j.app.Main", "export", uri, "--port",
                Integer.toString(port), "--name", "d").redirectErrorStream(true).redirectOutput(out.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (true) {
                try (Socket s = new Socket("127.0.0.1", port)) {
                    break;
                } catch (java.io.IOException notYet) {
                    assertTrue(export.isAlive(), "export died: " + Files.readString(out));
                    assertTrue(System.nanoTime() < deadline, "export did not listen");
                    export.waitFor(50, TimeUnit.MILLISECONDS);
                }
            }
            String nbd = "nbd://127.0.0.1:" + port + "/d";
            sh(qemuIo, "-f", "raw", "-c", "write -P 0x5a 4M 128k", "-c", "write -z 10M 4k", "-c", "write -P 1 65535 2", nbd);
            BitSet want = bits(0, 1, 2, 3, 16, 64, 65, 160);
            assertEquals(want, CbtLog.read(logFile).bits(), "qemu-io's writes were acknowledged: their bits are on the server");
            assertEquals(want, nbdinfoDirty(nbd));
            export.destroyForcibly(); // SIGKILL
            assertTrue(export.waitFor(30, TimeUnit.SECONDS));
        } finally {
            export.destroyForcibly();
        }
        CbtLog killed = CbtLog.read(logFile);
        assertFalse(killed.consistent(), "a killed daemon leaves the log on the SR inconsistent");
        assertEquals(bits(0, 1, 2, 3, 16, 64, 65, 160), killed.bits());
    }
}
