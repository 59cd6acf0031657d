package io.tapdisk4j.app.daemon;

import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.xenbus.BlkfrontXenbus;
import io.tapdisk4j.ring.xenbus.Toolstack;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenstore.XsClient;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code ctl export}: qemu-io reads what the guest wrote through the ring, and cannot write back. */
class DeviceExportsTest {

    @TempDir
    Path dir;

    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "timed out: " + String.join(" ", cmd));
        return p.exitValue() + "\n" + out;
    }

    @Test
    void exportsAnAttachedDeviceReadOnlyThatSeesTheGuestsWrites() throws Exception {
        String qemuIo = Peers.require("qemu-io", "qemu-utils");
        Path disk = dir.resolve("d.raw");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(8 << 20);
        }
        Path sim = dir.resolve("sim");
        try (Daemon daemon = Daemon.start(DaemonOptions.sim(sim));
             XsClient xs = XsClient.connect(daemon.xenstoredSocket());
             SimGuest guest = SimGuest.create(sim, 3, 256, 1024)) {
            VbdId id = new VbdId(3, 768);
            Toolstack.createVbd(xs, id, "file://" + disk, false);
            try (BlkfrontXenbus front = BlkfrontXenbus.connect(xs, guest, id, FrontendOptions.defaults(),
                    Duration.ofSeconds(30));
                 GuestBuffer b = front.emulator().allocateBuffer(16)) {
                byte[] pattern = new byte[65536];
                Arrays.fill(pattern, (byte) 0xab);
                b.put(0, pattern);
                assertTrue(front.emulator().write(0, 2048, b, 0, 65536).get(10, TimeUnit.SECONDS).ok());

                ControlResponse r = ControlClient.request(daemon.controlSocket(), "export 3/768 0");
                assertTrue(r.ok(), r.body());
                String uri = r.body().trim();
                assertTrue(uri.matches("nbd://127\\.0\\.0\\.1:\\d+/3-768"), uri);
                ControlResponse again = ControlClient.request(daemon.controlSocket(), "export 3/768 0");
                assertFalse(again.ok(), "one export per device");

                String read = run(qemuIo, "-r", "-f", "raw", "-c", "read -P 0xab 1M 64k", uri);
                assertTrue(read.startsWith("0\n") && !read.contains("Pattern verification failed"), read);
                String write = run(qemuIo, "-f", "raw", "-c", "write -P 0x11 1M 4k", uri);
                assertNotEquals('0', write.charAt(0), "a read-only export refuses writes: " + write);

                assertTrue(ControlClient.request(daemon.controlSocket(), "unexport 3/768").ok());
                String gone = run(qemuIo, "-r", "-f", "raw", "-c", "read 0 4k", uri);
                assertNotEquals('0', gone.charAt(0), gone);
                assertFalse(ControlClient.request(daemon.controlSocket(), "export 9/9 0").ok());

                ControlResponse iscsi = ControlClient.request(daemon.controlSocket(), "export 3/768 0 --protocol iscsi");
                assertTrue(iscsi.ok(), iscsi.body());
                String lun = iscsi.body().trim();
                assertTrue(lun.matches("iscsi://127\\.0\\.0\\.1:\\d+/iqn\\.[^/]+/0"), lun);
                String viaIscsi = run(qemuIo, "-r", "-f", "raw", "-c", "read -P 0xab 1M 64k", lun);
                assertTrue(viaIscsi.startsWith("0\n") && !viaIscsi.contains("Pattern verification failed"), viaIscsi);
                String refused = run(qemuIo, "-f", "raw", "-c", "write -P 0x11 1M 4k", lun);
                assertNotEquals('0', refused.charAt(0), "a read-only LUN refuses writes: " + refused);
                assertTrue(refused.contains("write protected"), refused);
                assertTrue(ControlClient.request(daemon.controlSocket(), "unexport 3/768").ok());
                assertEquals(0, (int) front.emulator().read(0, 2048, b, 0, 4096).get(10, TimeUnit.SECONDS).status());
            }
        }
    }
}
