package io.tapdisk4j.app;

import io.tapdisk4j.app.daemon.Daemon;
import io.tapdisk4j.app.daemon.DaemonOptions;
import io.tapdisk4j.testsupport.peers.Tgtd;
import io.tapdisk4j.ring.xenbus.Toolstack;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenstore.XsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 19: {@code vdi info} printed an iSCSI URI with its CHAP password. Every output the user or a
 * scraper sees — stdout, stderr (logs included), JSON, ctl answers, xenstore error nodes, /metrics — is
 * collected while CHAP URIs are used (right and wrong passwords) and searched for the secrets.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SecretsTest {

    private static final String SECRET = "S3cretChapPw99";
    private static final String WRONG = "Wr0ngGuessPw77";

    @TempDir
    Path dir;

    private final StringBuilder everything = new StringBuilder();

    private int run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(o, true, StandardCharsets.UTF_8));
            return Main.run(args);
        } finally {
            System.setOut(out);
            System.setErr(err);
            everything.append(o.toString(StandardCharsets.UTF_8)).append('\n');
        }
    }

    @Test
    void noSecretReachesAnyOutput() throws Exception {
        Path lun = dir.resolve("lun.raw");
        try (RandomAccessFile f = new RandomAccessFile(lun.toFile(), "rw")) {
            f.setLength(16 << 20);
        }
        PrintStream originalErr = System.err;
        ByteArrayOutputStream logs = new ByteArrayOutputStream();
        try (Tgtd tgtd = Tgtd.start(dir.resolve("tgtd")).targetWithLun(lun).chapAccount("alice", SECRET, false)) {
            String good = tgtd.lunUrl("alice%" + SECRET, 1);
            String bad = tgtd.lunUrl("alice%" + WRONG, 1);
            String mutual = good + "?target_user=t&target_password=" + SECRET;
            assertEquals(0, run("vdi", "info", good));
            assertTrue(everything.toString().contains("alice%***@"), everything.toString());
            assertEquals(0, run("vdi", "info", "--json", good));
            assertEquals(1, run("vdi", "info", bad));
            assertEquals(1, run("vdi", "info", mutual));
            run("vdi", "check", good);
            run("vdi", "copy", good, "file://" + dir.resolve("copy.raw"));
            run("vdi", "create", good, "--size", "1M");

            // The daemon: logs (stderr), ctl answers, xenstore's error node, /metrics.
            System.setErr(new PrintStream(logs, true, StandardCharsets.UTF_8));
            Path sim = dir.resolve("sim");
            try (Daemon d = Daemon.start(DaemonOptions.sim(sim).withMetrics(new InetSocketAddress("127.0.0.1", 0)));
                 XsClient xs = XsClient.connect(d.xenstoredSocket())) {
                Toolstack.createVbd(xs, new VbdId(3, 768), good, false);
                Toolstack.createVbd(xs, new VbdId(4, 768), bad, false);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                String list;
                do {
                    list = ctl(sim, "list");
                } while (!(list.contains("waiting for the frontend") && list.contains("error:"))
                        && System.nanoTime() < deadline);
                assertTrue(list.contains("alice%***@") && list.contains("error:"), list);
                everything.append(list).append(ctl(sim, "list", "--json")).append(ctl(sim, "stats", "--json"));
                everything.append(xs.readOptional("/local/domain/0/backend/vbd3/4/768/error").orElse(""));
                everything.append(HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                        "http://127.0.0.1:" + d.metricsAddress().getPort() + "/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString()).body());
                Toolstack.removeVbd(xs, new VbdId(3, 768));
                Toolstack.removeVbd(xs, new VbdId(4, 768));
            }
        } finally {
            System.setErr(originalErr);
        }
        everything.append(logs.toString(StandardCharsets.UTF_8));
        String all = everything.toString();
        assertTrue(all.contains("opened iscsi://alice%***@"), "the daemon's log is in what is searched: " + all);
        assertFalse(all.contains(SECRET), all);
        assertFalse(all.contains(WRONG), all);
    }

    private String ctl(Path sim, String... args) {
        String[] full = new String[args.length + 3];
        full[0] = "ctl";
        full[1] = "--sim";
        full[2] = sim.toString();
        System.arraycopy(args, 0, full, 3, args.length);
        int before = everything.length();
        run(full);
        return everything.substring(before);
    }
}
