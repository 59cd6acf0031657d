package io.tapdisk4j.app;

import io.tapdisk4j.app.daemon.ControlClient;
import io.tapdisk4j.app.daemon.ControlResponse;
import io.tapdisk4j.app.daemon.Daemon;
import io.tapdisk4j.app.daemon.DaemonOptions;
import io.tapdisk4j.app.daemon.ToolstackCommands;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.xenbus.BlkfrontXenbus;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenstore.XsClient;
import io.tapdisk4j.ring.xenstore.XsPerm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code ctl attach} / {@code ctl detach DOMID VDEV}: the toolstack's nodes, as xl users need them. */
@Timeout(60)
class CtlAttachTest {

    @TempDir
    Path dir;

    private static String[] ctl(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int rc = new CommandLine(new CtlCommand()).execute(args);
            return new String[]{Integer.toString(rc), o.toString(StandardCharsets.UTF_8),
                    e.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void attachWritesTheNodesAGuestCanUseAndDetachRemovesThem() throws Exception {
        Path sim = dir.resolve("sim");
        try (Daemon d = Daemon.start(DaemonOptions.sim(sim));
             XsClient xs = XsClient.connect(d.xenstoredSocket());
             SimGuest guest = SimGuest.create(sim, 5, 1024, 4096)) {
            String[] r = ctl("--sim", sim.toString(), "attach", "5", "xvda", "memory:?size=4M", "--mode", "w",
                    "--data-path", "map-copy");
            assertEquals("0", r[0], r[2]);
            assertTrue(r[1].contains("vbd3/5/51712 attached"), r[1]);
            VbdId id = new VbdId(5, 51712);
            assertEquals("memory:?size=4M", xs.read(id.backendPath() + "/params"));
            assertEquals("map-copy", xs.read(id.backendPath() + "/data-path"));
            assertEquals("disk", xs.read(id.frontendPath() + "/device-type"));
            assertEquals("51712", xs.read(id.frontendPath() + "/virtual-device"));
            // blkfront lists device/vbd itself and reads its backend: the guest owns / may read them.
            assertEquals(List.of(new XsPerm(XsPerm.Access.NONE, 5), new XsPerm(XsPerm.Access.READ, 0)),
                    xs.getPerms("/local/domain/5/device/vbd"));
            assertEquals(List.of(new XsPerm(XsPerm.Access.NONE, 0), new XsPerm(XsPerm.Access.READ, 5)),
                    xs.getPerms("/local/domain/0/backend/vbd3/5"));
            // Every key, not only the directories: xenstored gives a new node its parent's permissions, so
            // keys written before the directory's chmod would stay unreadable to a real blkfront (xen-lab).
            XsPerm guestReads = new XsPerm(XsPerm.Access.READ, 5);
            for (String key : List.of("state", "params", "mode", "frontend", "online")) {
                assertTrue(xs.getPerms(id.backendPath() + "/" + key).contains(guestReads), key);
            }
            assertEquals(5, xs.getPerms(id.frontendPath() + "/state").getFirst().domid());
            String[] again = ctl("--sim", sim.toString(), "attach", "5", "51712", "memory:?size=4M");
            assertEquals("1", again[0]);
            assertTrue(again[2].contains("exists already"), again[2]);

            // The guest connects and its disk runs on the device's own data path.
            try (BlkfrontXenbus front = BlkfrontXenbus.connect(xs, guest, id, FrontendOptions.defaults(),
                    Duration.ofSeconds(30))) {
                try (GuestBuffer b = front.emulator().allocateBuffer(1)) {
                    assertTrue(front.emulator().write(0, 0, b, 0, 4096).get(10, TimeUnit.SECONDS).ok());
                }
                ControlResponse list = ControlClient.request(d.controlSocket(), "list");
                assertTrue(list.body().lines().anyMatch(l -> l.matches("5\\s+51712\\s+CONNECTED\\s+connected\\s+map-copy\\s.*")),
                        list.body());
            }
            String[] det = ctl("--sim", sim.toString(), "--timeout", "20", "detach", "5", "xvda");
            assertEquals("0", det[0], det[2]);
            assertEquals("vbd3/5/51712 detached\n", det[1]);
            assertFalse(xs.exists(id.backendPath()));
            assertFalse(xs.exists(id.frontendPath()));
        }
    }

    @Test
    void theDaemonAttachesAndDetachesThroughItsControlSocket() throws Exception {
        Path sim = dir.resolve("sim");
        try (Daemon d = Daemon.start(DaemonOptions.sim(sim)); XsClient xs = XsClient.connect(d.xenstoredSocket())) {
            ControlResponse a = ControlClient.request(d.controlSocket(), "attach 6 xvdb memory:?size=1M --mode r");
            assertTrue(a.ok(), a.body());
            VbdId id = new VbdId(6, 51728);
            assertEquals("r", xs.read(id.backendPath() + "/mode"));
            ControlResponse bad = ControlClient.request(d.controlSocket(), "attach 6 xvdc memory:?size=1M --mode x");
            assertFalse(bad.ok());
            assertTrue(bad.body().contains("--mode is r or w"), bad.body());
            ControlResponse det = ControlClient.request(d.controlSocket(), "detach 6 xvdb");
            assertTrue(det.ok(), det.body());
            assertFalse(xs.exists(id.backendPath()));
            ControlResponse none = ControlClient.request(d.controlSocket(), "detach 6 xvdb");
            assertFalse(none.ok());
            assertTrue(none.body().contains("no device vbd3/6/51728"), none.body());
        }
    }

    @Test
    void virtualDeviceNamesFollowXensEncoding() {
        assertEquals(51712, ToolstackCommands.parseVdev("xvda"));
        assertEquals(51728, ToolstackCommands.parseVdev("xvdb"));
        assertEquals(51952, ToolstackCommands.parseVdev("xvdp"));
        assertEquals((1 << 28) | (16 << 8), ToolstackCommands.parseVdev("xvdq"));
        assertEquals(768, ToolstackCommands.parseVdev("768"));
        assertThrows(IllegalArgumentException.class, () -> ToolstackCommands.parseVdev("sda"));
    }
}
