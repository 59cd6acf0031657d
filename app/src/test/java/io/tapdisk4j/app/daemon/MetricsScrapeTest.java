package io.tapdisk4j.app.daemon;

import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.xenbus.BlkfrontXenbus;
import io.tapdisk4j.ring.xenbus.Toolstack;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenstore.XsClient;
import io.tapdisk4j.testsupport.Ports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * /metrics as Prometheus scrapes it, read from the rings' own histograms: the series names, types, bucket
 * bounds and counts the daemon's Micrometer meters used to publish, and ctl's percentiles from the same data.
 */
@Timeout(120)
class MetricsScrapeTest {

    private static final String DEV = "device=\"51712\",domain=\"7\"";

    @TempDir
    Path dir;

    @Test
    void scrapeShowsTheRingsHistogramsUnderTheirSeriesNames() throws Exception {
        Path sim = dir.resolve("sim");
        Path disk = dir.resolve("a.raw");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(4 << 20);
        }
        int port = Ports.free();
        try (Daemon daemon = Daemon.start(DaemonOptions.sim(sim).withMetrics(new InetSocketAddress("127.0.0.1", port)));
             XsClient xs = XsClient.connect(daemon.xenstoredSocket());
             SimGuest guest = SimGuest.create(sim, 7, 1024, 4096)) {
            VbdId id = new VbdId(7, 51712);
            Toolstack.createVbd(xs, id, "file://" + disk, false);
            double batches;
            try (BlkfrontXenbus front = BlkfrontXenbus.connect(xs, guest, id, FrontendOptions.defaults(),
                    Duration.ofSeconds(30)); GuestBuffer b = front.emulator().allocateBuffer(4)) {
                var ring = front.emulator();
                for (int i = 0; i < 3; i++) {
                    assertTrue(ring.write(0, 8L * i, b, 0, 4096).get(10, TimeUnit.SECONDS).ok());
                }
                assertTrue(ring.write(0, 64, b, 0, 16384).get(10, TimeUnit.SECONDS).ok());
                assertTrue(ring.read(0, 0, b, 0, 8192).get(10, TimeUnit.SECONDS).ok());
                assertTrue(ring.flush(0).get(10, TimeUnit.SECONDS).ok());
                // Past the end of the 4 MiB disk: refused by validation.
                assertFalse(ring.read(0, 8192, b, 0, 512).get(10, TimeUnit.SECONDS).ok());

                String m = scrape(port);
                // Types and names as Micrometer published them.
                for (String t : List.of("# TYPE tapdisk4j_vbd_requests_seconds histogram",
                        "# TYPE tapdisk4j_vbd_requests_seconds_max gauge",
                        "# TYPE tapdisk4j_vbd_latency_seconds summary",
                        "# TYPE tapdisk4j_vbd_latency_seconds_max gauge",
                        "# TYPE tapdisk4j_vbd_request_size_bytes histogram",
                        "# TYPE tapdisk4j_vbd_request_size_bytes_max gauge",
                        "# TYPE tapdisk4j_vbd_bytes_total counter",
                        "# TYPE tapdisk4j_vbd_errors_total counter",
                        "# TYPE tapdisk4j_grantcopy_batch_segments histogram",
                        "# TYPE tapdisk4j_grantcopy_batch_segments_max gauge")) {
                    assertTrue(m.contains(t + "\n"), t + " in\n" + m);
                }
                assertEquals(4, value(m, "tapdisk4j_vbd_requests_seconds_count{" + DEV + ",op=\"write\"}"), m);
                assertEquals(2, value(m, "tapdisk4j_vbd_requests_seconds_count{" + DEV + ",op=\"read\"}"), m);
                assertEquals(1, value(m, "tapdisk4j_vbd_requests_seconds_count{" + DEV + ",op=\"flush\"}"), m);
                assertEquals(4, value(m, "tapdisk4j_vbd_requests_seconds_bucket{" + DEV + ",op=\"write\",le=\"+Inf\"}"));
                assertTrue(value(m, "tapdisk4j_vbd_requests_seconds_sum{" + DEV + ",op=\"write\"}") > 0, m);
                assertTrue(value(m, "tapdisk4j_vbd_requests_seconds_max{" + DEV + ",op=\"write\"}") > 0, m);
                assertCumulative(m, "tapdisk4j_vbd_requests_seconds_bucket{" + DEV + ",op=\"write\",le=", 20);

                // Sizes: the same bounds as before; 3 x 4 KiB and one 16 KiB write.
                assertEquals(3, value(m, "tapdisk4j_vbd_request_size_bytes_bucket{" + DEV + ",op=\"write\",le=\"4096.0\"}"));
                assertEquals(4, value(m, "tapdisk4j_vbd_request_size_bytes_bucket{" + DEV + ",op=\"write\",le=\"16384.0\"}"));
                assertEquals(0, value(m, "tapdisk4j_vbd_request_size_bytes_bucket{" + DEV + ",op=\"write\",le=\"512.0\"}"));
                assertEquals(28672, value(m, "tapdisk4j_vbd_request_size_bytes_sum{" + DEV + ",op=\"write\"}"));
                assertEquals(16384, value(m, "tapdisk4j_vbd_request_size_bytes_max{" + DEV + ",op=\"write\"}"));
                assertCumulative(m, "tapdisk4j_vbd_request_size_bytes_bucket{" + DEV + ",op=\"write\",le=", 7);
                assertEquals(28672, value(m, "tapdisk4j_vbd_bytes_total{" + DEV + ",op=\"write\"}"));
                assertEquals(8192, value(m, "tapdisk4j_vbd_bytes_total{" + DEV + ",op=\"read\"}"), m);
                assertFalse(m.contains("op=\"discard\""), "no series before the first request of an operation");

                // All operations, with the percentiles ctl shows.
                assertEquals(7, value(m, "tapdisk4j_vbd_latency_seconds_count{" + DEV + "}"));
                for (String q : List.of("0.5", "0.9", "0.99")) {
                    double v = value(m, "tapdisk4j_vbd_latency_seconds{" + DEV + ",quantile=\"" + q + "\"}");
                    assertTrue(v > 0 && v <= value(m, "tapdisk4j_vbd_latency_seconds_max{" + DEV + "}"), q + ": " + v);
                }
                assertEquals(1, value(m, "tapdisk4j_vbd_errors_total{" + DEV + ",kind=\"response\"}"), m);
                assertEquals(1, value(m, "tapdisk4j_vbd_errors_total{" + DEV + ",kind=\"bad_request\"}"), m);
                assertEquals(0, value(m, "tapdisk4j_vbd_errors_total{" + DEV + ",kind=\"fatal\"}"), m);
                assertEquals(0, value(m, "tapdisk4j_vbd_inflight{" + DEV + "}"), m);

                // One grant-copy batch per data request on the copy path: 5 of them, 1 to 4 segments each.
                batches = value(m, "tapdisk4j_grantcopy_batch_segments_count");
                assertTrue(batches >= 5, m);
                assertEquals(batches, value(m, "tapdisk4j_grantcopy_batch_segments_bucket{le=\"4.0\"}"), m);
                assertCumulative(m, "tapdisk4j_grantcopy_batch_segments_bucket{le=", 12);

                ControlResponse stats = ControlClient.request(daemon.controlSocket(), "stats 7/51712 --json");
                assertTrue(stats.ok(), stats.body());
                assertFalse(stats.body().contains("\"p50\":null"), stats.body());
                ControlResponse text = ControlClient.request(daemon.controlSocket(), "stats");
                String row = text.body().lines().filter(l -> l.startsWith("vbd3/7/51712")).findFirst().orElseThrow();
                String[] cols = row.trim().split("\\s+");
                for (int i = cols.length - 3; i < cols.length; i++) {
                    assertTrue(Double.parseDouble(cols[i]) > 0, text.body());
                }
            }

            // The device leaves: its series go, the all-devices grant-copy total keeps its batches (once the
            // removal of every incarnation of the device was reported).
            Toolstack.removeVbd(xs, id);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            String m = scrape(port);
            while (m.contains(DEV) || value(m, "tapdisk4j_grantcopy_batch_segments_count") != batches) {
                assertTrue(System.nanoTime() < deadline, "the device's series never went away, or its batches"
                        + " did with them (" + batches + " expected):\n" + m);
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
                m = scrape(port);
            }
            assertEquals(batches, value(m, "tapdisk4j_grantcopy_batch_segments_bucket{le=\"+Inf\"}"), m);
        }
    }

    private static String scrape(int port) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        return r.body();
    }

    /** The value of the series line that starts with {@code series} followed by a space. */
    private static double value(String scrape, String series) {
        return scrape.lines().filter(l -> l.startsWith(series + " ")).findFirst()
                .map(l -> Double.parseDouble(l.substring(series.length() + 1).trim()))
                .orElseThrow(() -> new AssertionError("no series " + series + " in\n" + scrape));
    }

    /** The bucket lines with this prefix: {@code count} of them, counts never decreasing, ending at +Inf. */
    private static void assertCumulative(String scrape, String prefix, int count) {
        List<String> lines = scrape.lines().filter(l -> l.startsWith(prefix)).toList();
        assertEquals(count, lines.size(), String.join("\n", lines));
        double last = -1;
        for (String l : lines) {
            double v = Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1));
            assertTrue(v >= last, l);
            last = v;
        }
        assertTrue(lines.getLast().startsWith(prefix + "\"+Inf\"}"), lines.getLast());
    }
}
