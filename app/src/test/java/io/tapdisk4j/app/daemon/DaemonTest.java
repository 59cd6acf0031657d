package io.tapdisk4j.app.daemon;

import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.sim.xenstored.SimXenstored;
import io.tapdisk4j.ring.xenbus.BlkfrontXenbus;
import io.tapdisk4j.ring.xenbus.Toolstack;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenbus.XenbusState;
import io.tapdisk4j.ring.xenstore.XsClient;
import io.tapdisk4j.testsupport.Ports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The serve daemon in-process: a guest attaches through xenstore, ctl and /metrics see it, shutdown drains. */
class DaemonTest {

    @TempDir
    Path dir;

    private Path disk(String name) throws Exception {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(4 << 20);
        }
        return p;
    }

    @Test
    void serveSimAttachCtlMetricsAndGracefulShutdown() throws Exception {
        Path sim = dir.resolve("sim");
        Files.createDirectories(sim);
        int port = Ports.free();
        // Our own xenstored, so that the backend's last words (state Closed) can be read after shutdown.
        SimXenstored xenstored = SimXenstored.start(sim.resolve("xenstored.sock"));
        Daemon daemon = Daemon.start(DaemonOptions.sim(sim).withMetrics(new InetSocketAddress("127.0.0.1", port)));
        boolean closed = false;
        try (xenstored; XsClient xs = XsClient.connect(daemon.xenstoredSocket());
             SimGuest guest = SimGuest.create(sim, 7, 1024, 4096)) {
            VbdId id = new VbdId(7, 51712);
            Path d = disk("a.raw");
            Toolstack.createVbd(xs, id, "file://" + d, false);
            Toolstack.createVbd(xs, new VbdId(8, 768), "file://" + dir.resolve("missing.raw"), false);
            try (BlkfrontXenbus front = BlkfrontXenbus.connect(xs, guest, id, FrontendOptions.defaults(),
                    Duration.ofSeconds(30))) {
                try (GuestBuffer b = front.emulator().allocateBuffer(2)) {
                    b.put(0, new byte[]{1, 2, 3});
                    assertTrue(front.emulator().write(0, 0, b, 0, 8192).get(10, TimeUnit.SECONDS).ok());
                    assertTrue(front.emulator().read(0, 0, b, 0, 8192).get(10, TimeUnit.SECONDS).ok());
                    assertTrue(front.emulator().flush(0).get(10, TimeUnit.SECONDS).ok());
                }
                ControlResponse list = ControlClient.request(daemon.controlSocket(), "list");
                assertTrue(list.ok(), list.body());
                assertTrue(list.body().lines().anyMatch(l -> l.matches("7\\s+51712\\s+CONNECTED\\s+connected\\s+copy\\s+1\\s+0\\s+file://.*a\\.raw")),
                        list.body());
                assertTrue(list.body().contains("error: "), list.body()); // the device whose params are missing

                ControlResponse json = ControlClient.request(daemon.controlSocket(), "list --json");
                assertTrue(json.body().startsWith("[{\"domain\":7,\"device\":51712,"), json.body());
                assertTrue(json.body().contains("\"state\":\"CONNECTED\""), json.body());

                ControlResponse stats = ControlClient.request(daemon.controlSocket(), "stats 7/51712 --json");
                assertTrue(stats.ok(), stats.body());
                assertTrue(stats.body().contains("\"reads\":1,\"writes\":1,\"flushes\":1"), stats.body());
                assertTrue(stats.body().contains("\"bytesRead\":8192,\"bytesWritten\":8192"), stats.body());
                assertFalse(stats.body().contains("\"p50\":null"), stats.body());
                ControlResponse text = ControlClient.request(daemon.controlSocket(), "stats");
                assertTrue(text.body().contains("vbd3/7/51712"), text.body());

                assertFalse(ControlClient.request(daemon.controlSocket(), "pause 9/9").ok());
                assertFalse(ControlClient.request(daemon.controlSocket(), "frobnicate").ok());

                HttpResponse<String> m = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(200, m.statusCode());
                String metrics = m.body();
                assertTrue(metrics.contains("tapdisk4j_vbd_requests_seconds_count{device=\"51712\",domain=\"7\",op=\"write\"} 1"), metrics);
                assertTrue(metrics.contains("tapdisk4j_vbd_bytes_total{device=\"51712\",domain=\"7\",op=\"read\"} 8192"), metrics);
                assertTrue(metrics.contains("tapdisk4j_vbd_requests_seconds_bucket{"), metrics);
                assertTrue(metrics.contains("tapdisk4j_vbd_inflight{device=\"51712\",domain=\"7\"} 0"), metrics);
                assertTrue(metrics.contains("tapdisk4j_buffers_used_bytes{kind=\"direct\"}"), metrics);
                assertTrue(metrics.contains("tapdisk4j_eventloop_pending_tasks{loop=\"0\"}"), metrics);
                assertTrue(metrics.contains("tapdisk4j_devices 2"), metrics);
                // The 8 KiB write and read were grant-copied in batches of (at least) one segment each.
                assertTrue(metrics.lines().anyMatch(l -> l.startsWith("tapdisk4j_grantcopy_batch_segments_count ")
                        && Double.parseDouble(l.substring(l.indexOf(' ') + 1)) >= 2), metrics);

                daemon.close(); // what SIGTERM does
                closed = true;
                assertEquals(XenbusState.CLOSED, front.backendState());
                assertThrows(Exception.class, () -> ControlClient.request(daemon.controlSocket(), "list"));
            }
        } finally {
            if (!closed) {
                daemon.close();
            }
        }
    }

    @Test
    void serveSimStartsItsOwnXenstoredWhenNoneListensAndStopsIt() throws Exception {
        Path sim = dir.resolve("sim2");
        Daemon d = Daemon.start(DaemonOptions.sim(sim));
        try {
            assertTrue(SimXenstored.listening(sim.resolve("xenstored.sock")));
            assertTrue(ControlClient.request(d.controlSocket(), "list").ok());
            assertThrows(java.io.IOException.class, () -> Daemon.start(DaemonOptions.sim(sim))); // one per socket
            assertTrue(ControlClient.request(d.controlSocket(), "list").ok()); // the failed start left ours alone
        } finally {
            d.close();
        }
        assertFalse(Files.exists(sim.resolve("xenstored.sock")));
        assertFalse(Files.exists(sim.resolve("tapdisk4j.sock")));
    }
}
