package io.tapdisk4j.rbd.testing;

import io.tapdisk4j.testsupport.Peers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A throwaway single-node Ceph cluster for tests: one monitor and one OSD (bluestore on a sparse file), bound
 * to 127.0.0.1 on free ports, with a pool {@code rbd}. Started once per test JVM ({@link #shared()}) and
 * stopped by pid when the JVM exits. See ../shared/ceph-lab.md for the bootstrap this follows.
 */
public final class CephCluster {

    public static final String POOL = "rbd";
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(60);
    private static CephCluster shared;

    private final Path dir;
    private final Path conf;
    private final Path keyring;
    private final String cephTool;
    private final String rbdTool;
    private final String osdDaemon;
    private final String monDaemon;
    private int osdId;

    private CephCluster(Path dir) {
        this.dir = dir;
        this.conf = dir.resolve("ceph.conf");
        this.keyring = dir.resolve("client.admin.keyring");
        this.cephTool = Peers.require("ceph", "ceph-common");
        this.rbdTool = Peers.require("rbd", "ceph-common");
        this.monDaemon = Peers.require("ceph-mon", "ceph-mon");
        this.osdDaemon = Peers.require("ceph-osd", "ceph-osd");
        Peers.require("ceph-authtool", "ceph-common");
        Peers.require("monmaptool", "ceph-common");
        Peers.requireFile("/usr/lib/x86_64-linux-gnu/librbd.so.1", "librbd1");
    }

    /** The cluster of this test JVM, started on first use. */
    public static synchronized CephCluster shared() {
        if (shared == null) {
            try {
                CephCluster c = new CephCluster(Files.createTempDirectory("tapdisk4j-ceph"));
                Runtime.getRuntime().addShutdownHook(new Thread(c::stop, "ceph-cluster-stop"));
                c.start();
                shared = c;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return shared;
    }

    public Path conf() {
        return conf;
    }

    public Path keyring() {
        return keyring;
    }

    public Path dir() {
        return dir;
    }

    /** {@code rbd://admin@rbd/IMAGE?conf=…} (plus {@code extra}, e.g. "&timeout=5"). */
    public String uri(String image, String extra) {
        return "rbd://admin@" + POOL + "/" + image + "?conf=" + conf + (extra == null ? "" : extra);
    }

    public String uri(String image) {
        return uri(image, null);
    }

    /** QEMU's spelling of the same image: {@code rbd:rbd/IMAGE:conf=…:id=admin}. */
    public String qemu(String image) {
        return "rbd:" + POOL + "/" + image + ":conf=" + conf + ":id=admin";
    }

    /** Runs the {@code rbd} tool; its standard output, or an AssertionError with its output. */
    public String rbd(String... args) {
        List<String> cmd = new ArrayList<>(List.of(rbdTool, "-c", conf.toString()));
        cmd.addAll(List.of(args));
        return run(cmd);
    }

    public String ceph(String... args) {
        List<String> cmd = new ArrayList<>(List.of(cephTool, "-c", conf.toString()));
        cmd.addAll(List.of(args));
        return run(cmd);
    }

    /** SIGKILL to the OSD, by the pid in its pid file; waits until it is gone. */
    public void killOsd() {
        kill("osd." + osdId, true);
    }

    /** Starts the OSD again and waits until the monitor sees it up. */
    public void startOsd() {
        run(daemon(osdDaemon, "-c", conf.toString(), "-i", Integer.toString(osdId)));
        awaitOsdUp(Duration.ofSeconds(90));
    }

    /** SIGKILL to the monitor, then starts it again. */
    public void restartMon() {
        kill("mon.a", true);
        run(daemon(monDaemon, "-c", conf.toString(), "-i", "a"));
    }

    public void awaitOsdUp(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            String stat = run(List.of(cephTool, "-c", conf.toString(), "--connect-timeout", "10", "osd", "stat", "-f", "json"));
            if (stat.replace(" ", "").contains("\"num_up_osds\":1")) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the OSD is not up after " + timeout + ": " + stat);
            }
            pause(200);
        }
    }

    private void start() throws IOException {
        int port = freePortRange(44);
        String fsid = UUID.randomUUID().toString();
        String mon = "[v2:127.0.0.1:" + port + ",v1:127.0.0.1:" + (port + 1) + "]";
        Files.createDirectories(dir.resolve("mon"));
        Files.createDirectories(dir.resolve("osd"));
        Files.createDirectories(dir.resolve("run"));
        Files.createDirectories(dir.resolve("log"));
        String d = dir.toString();
        Files.writeString(conf, String.join("\n",
                "[global]",
                "fsid = " + fsid,
                "mon_host = " + mon,
                "public_addr = 127.0.0.1",
                "cluster_addr = 127.0.0.1",
                "public_network = 127.0.0.1/32",
                "ms_bind_ipv6 = false",
                "ms_bind_port_min = " + (port + 2),
                "ms_bind_port_max = " + (port + 43),
                "run_dir = " + d + "/run",
                "crash_dir = " + d + "/crash",
                "keyring = " + d + "/$name.keyring",
                "osd_pool_default_size = 1",
                "osd_pool_default_min_size = 1",
                "mon_allow_pool_size_one = true",
                "mon_warn_on_pool_no_redundancy = false",
                "osd_crush_chooseleaf_type = 0",
                "mon_data_avail_warn = 1",
                "mon_data_avail_crit = 0",
                "auth_allow_insecure_global_id_reclaim = false",
                "[mon]",
                "mon_data = " + d + "/mon/$name",
                "log_file = " + d + "/log/$name.log",
                "admin_socket = " + d + "/run/$name.asok",
                "pid_file = " + d + "/run/$name.pid",
                "[osd]",
                "log_file = " + d + "/log/$name.log",
                "admin_socket = " + d + "/run/$name.asok",
                "pid_file = " + d + "/run/$name.pid",
                "osd_data = " + d + "/osd/$name",
                "osd_objectstore = bluestore",
                "bluestore_block_path = " + d + "/osd-$id.block",
                "bluestore_block_create = true",
                "bluestore_block_size = 21474836480",
                "osd_memory_target = 536870912",
                "bluestore_cache_autotune = false",
                "bluestore_cache_size = 134217728",
                "osd_op_num_shards = 1",
                "osd_op_num_threads_per_shard = 2",
                ""), StandardCharsets.UTF_8);
        Path monKeyring = dir.resolve("mon.keyring");
        run(List.of("ceph-authtool", "--create-keyring", monKeyring.toString(), "--gen-key", "-n", "mon.", "--cap", "mon", "allow *"));
        run(List.of("ceph-authtool", "--create-keyring", keyring.toString(), "--gen-key", "-n", "client.admin",
                "--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mgr", "allow *"));
        run(List.of("ceph-authtool", monKeyring.toString(), "--import-keyring", keyring.toString()));
        run(List.of("monmaptool", "--create", "--fsid", fsid, "--addv", "a", mon, d + "/monmap"));
        run(List.of(monDaemon, "-c", conf.toString(), "--mkfs", "-i", "a", "--monmap", d + "/monmap", "--keyring",
                monKeyring.toString()));
        if (!Files.exists(dir.resolve("mon/mon.a/keyring"))) { // mkfs exits 0 even when it refused
            throw new AssertionError("ceph-mon --mkfs did not create the monitor's store in " + dir);
        }
        run(daemon(monDaemon, "-c", conf.toString(), "-i", "a"));
        String uuid = UUID.randomUUID().toString();
        String secret = run(List.of("ceph-authtool", "--gen-print-key")).trim();
        Path secretJson = dir.resolve("osd-secret.json");
        Files.writeString(secretJson, "{\"cephx_secret\": \"" + secret + "\"}");
        osdId = Integer.parseInt(run(List.of(cephTool, "-c", conf.toString(), "osd", "new", uuid, "-i", secretJson.toString())).trim());
        Files.delete(secretJson);
        Files.createDirectories(dir.resolve("osd/osd." + osdId));
        run(List.of("ceph-authtool", "--create-keyring", d + "/osd." + osdId + ".keyring", "--name", "osd." + osdId,
                "--add-key", secret));
        run(List.of(osdDaemon, "-c", conf.toString(), "-i", Integer.toString(osdId), "--mkfs", "--osd-uuid", uuid));
        run(daemon(osdDaemon, "-c", conf.toString(), "-i", Integer.toString(osdId)));
        ceph("osd", "pool", "create", POOL, "8", "8");
        rbd("pool", "init", POOL);
    }

    /** Stops every daemon by the pid in its pid file. */
    public synchronized void stop() {
        kill("osd." + osdId, false);
        kill("mon.a", false);
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // leaving a temporary directory behind is harmless
        }
    }

    private void kill(String name, boolean force) {
        Path pidFile = dir.resolve("run/" + name + ".pid");
        try {
            if (!Files.exists(pidFile)) {
                return;
            }
            long pid = Long.parseLong(Files.readString(pidFile).trim());
            ProcessHandle.of(pid).ifPresent(h -> {
                if (force) {
                    h.destroyForcibly();
                } else {
                    h.destroy();
                }
                try {
                    h.onExit().get(30, TimeUnit.SECONDS);
                } catch (Exception e) {
                    h.destroyForcibly();
                }
            });
            Files.deleteIfExists(pidFile);
        } catch (IOException | NumberFormatException e) {
            throw new AssertionError("cannot stop " + name + ": " + e, e);
        }
    }

    /**
     * A daemon's command line, under {@code nice -n N} when {@code -Dceph.nice=N} is set: benchmarks run the
     * cluster at a lower priority than the processes they measure, on a shared machine.
     */
    private static List<String> daemon(String... cmd) {
        String nice = System.getProperty("ceph.nice");
        List<String> out = new ArrayList<>();
        if (nice != null && !nice.isBlank()) {
            out.addAll(List.of("nice", "-n", Integer.toString(Integer.parseInt(nice.strip()))));
        }
        out.addAll(List.of(cmd));
        return out;
    }

    private String run(List<String> cmd) {
        try {
            Path out = Files.createTempFile(dir, "cmd", ".out");
            Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(false)
                    .redirectOutput(out.toFile()).redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve("commands.log").toFile()))
                    .start();
            p.getOutputStream().close();
            if (!p.waitFor(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out: " + String.join(" ", cmd));
            }
            String text = Files.readString(out);
            Files.delete(out);
            if (p.exitValue() != 0) {
                throw new AssertionError("failed (" + p.exitValue() + "): " + String.join(" ", cmd) + "\n" + text
                        + "\n(stderr in " + dir.resolve("commands.log") + ")");
            }
            return text;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** The first of {@code count} consecutive ports free on 127.0.0.1, in a random high range. */
    private static int freePortRange(int count) {
        for (int attempt = 0; attempt < 200; attempt++) {
            int base = ThreadLocalRandom.current().nextInt(20000, 60000 - count);
            boolean free = true;
            for (int p = base; p < base + count && free; p++) {
                try (ServerSocket s = new ServerSocket()) {
                    s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), p));
                } catch (IOException e) {
                    free = false;
                }
            }
            if (free) {
                return base;
            }
        }
        throw new AssertionError("no " + count + " consecutive free ports on 127.0.0.1");
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis); // polling the cluster's state: there is no event to wait on
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
