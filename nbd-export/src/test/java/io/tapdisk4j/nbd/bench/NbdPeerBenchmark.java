package io.tapdisk4j.nbd.bench;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.local.FileDevice;
import io.tapdisk4j.nbd.Run;
import io.tapdisk4j.nbd.server.NbdExport;
import io.tapdisk4j.nbd.server.NbdServer;
import io.tapdisk4j.testsupport.PeerProcess;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.testsupport.Ports;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The issue's closing-note figures, side by side in one run: the same cached 1 GiB raw file exported by
 * tapdisk4j, nbdkit (file), qemu-nbd and nbd-server, read with {@code nbdcopy --no-extents} to null: at 1
 * and 4 connections and with fio ioengine=nbd 4 KiB random reads at queue depth 64; then tapdisk4j's client
 * backend reading the file from nbdkit against nbdcopy doing the same. Every server is warmed up, then they
 * are measured in turn for {@code -Drounds=5} rounds, each round starting with the next server; the tables
 * give the best and the median of the rounds.
 * <pre>
 *   mvn -pl nbd-export test-compile exec:java ... or: java -cp … io.tapdisk4j.nbd.bench.NbdPeerBenchmark [DIR]
 * </pre>
 */
public final class NbdPeerBenchmark {

    static final long SIZE = 1L << 30;
    static final int ROUNDS = Integer.getInteger("rounds", 5);
    static final int FIO_SECONDS = Integer.getInteger("fio.seconds", 5);

    public static void main(String[] args) throws Exception {
        run(args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("nbd-bench"));
    }

    /** Runs every comparison, prints its tables, and returns the figures for `bench peers`. */
    public static List<io.tapdisk4j.testsupport.PeerFigure> run(Path dir) throws Exception {
        List<io.tapdisk4j.testsupport.PeerFigure> figures = new ArrayList<>();
        Files.createDirectories(dir);
        Path image = dir.resolve("bench-1g.raw");
        prepare(image);
        System.out.printf(Locale.ROOT, "memcpy ceiling (1 GiB, 1 MiB blocks): %.0f MB/s%n", memcpy());

        Map<String, Samples> samples = new LinkedHashMap<>();
        String nbdcopy = Peers.require("nbdcopy", "libnbd-bin");
        String fio = Peers.require("fio", "fio");
        Map<String, String> uris = new LinkedHashMap<>();
        Map<String, Long> pids = new LinkedHashMap<>();
        List<AutoCloseable> running = new ArrayList<>();
        try {
            // All four serve at once and are measured in turn, round after round (best of the rounds), so that
            // load from elsewhere on the machine falls on every server alike.
            FileDevice dev = FileDevice.open(image.toString(), true, false);
            running.add(dev);
            NbdServer s = NbdServer.builder().export(new NbdExport("bench", null, dev, true)).bindTcp("127.0.0.1", 0);
            running.add(s);
            uris.put("tapdisk4j", "nbd://127.0.0.1:" + s.port() + "/bench");
            pids.put("tapdisk4j", ProcessHandle.current().pid());
            int kitPort = Ports.free();
            running.add(kit(start(dir, "nbdkit", kitPort, List.of(Peers.require("nbdkit", "nbdkit"), "-f", "-r",
                    "-p", String.valueOf(kitPort), "-i", "127.0.0.1", "--exit-with-parent", "file", image.toString()), null), pids, "nbdkit"));
            uris.put("nbdkit", "nbd://127.0.0.1:" + kitPort + "/");
            int qPort = Ports.free();
            Path qPid = dir.resolve("qemu-nbd.pid");
            Files.deleteIfExists(qPid);
            running.add(kit(start(dir, "qemu-nbd", qPort, List.of(Peers.require("qemu-nbd", "qemu-utils"), "-r",
                    "-p", String.valueOf(qPort), "-b", "127.0.0.1", "-f", "raw", "-t", "-x", "bench", "-e", "8",
                    "--cache=writeback", image.toString(), "--fork", "--pid-file", qPid.toString()), qPid), pids, "qemu-nbd"));
            uris.put("qemu-nbd", "nbd://127.0.0.1:" + qPort + "/bench");
            int nPort = Ports.free();
            Path conf = dir.resolve("nbd-server.conf");
            Path nPid = dir.resolve("nbd-server.pid");
            Files.deleteIfExists(nPid);
            Files.writeString(conf, "[generic]\nport = " + nPort + "\nlistenaddr = 127.0.0.1\nuser = root\ngroup = root\n"
                    + "[bench]\nexportname = " + image + "\nreadonly = true\n");
            running.add(kit(start(dir, "nbd-server", nPort, List.of(Peers.require("nbd-server", "nbd-server"),
                    "-C", conf.toString(), "-p", nPid.toString()), nPid), pids, "nbd-server"));
            uris.put("nbd-server", "nbd://127.0.0.1:" + nPort + "/bench");

            // Warm-up (not counted): the JIT compiles tapdisk4j's read path. Measured here: the server's CPU per
            // GiB copied falls from about 0.9 s on the first copies to about 0.3 s from the sixth on, and perf
            // still shows C2 compiling (13% of the server's samples) after ten. Every other server gets one copy
            // and one fio run too, so that no one is measured on its first connection.
            for (int i = 0; i < 14; i++) {
                time(List.of(nbdcopy, "--no-extents", "-C", i % 2 == 0 ? "1" : "4", uris.get("tapdisk4j"), "null:"));
            }
            for (String uri : uris.values()) {
                time(List.of(nbdcopy, "--no-extents", "-C", "4", uri, "null:"));
                fioIops(fio, uri, 1);
            }
            for (String name : uris.keySet()) {
                samples.put(name, new Samples());
            }
            List<String> order = new ArrayList<>(uris.keySet());
            for (int round = 0; round < ROUNDS; round++) {
                // Each round starts with the next server: none is always measured right after the same other.
                for (String name : order) {
                    Samples r = samples.get(name);
                    String uri = uris.get(name);
                    long pid = pids.get(name);
                    double cpu = cpuSeconds(pid);
                    r.copy1.add(time(List.of(nbdcopy, "--no-extents", "-C", "1", uri, "null:")));
                    double cpu1 = cpuSeconds(pid);
                    r.copy4.add(time(List.of(nbdcopy, "--no-extents", "-C", "4", uri, "null:")));
                    double cpu4 = cpuSeconds(pid);
                    r.cpu1.add(cpu1 - cpu);
                    r.cpu4.add(cpu4 - cpu1);
                    r.iops.add(fioIops(fio, uri, FIO_SECONDS));
                }
                order.addLast(order.removeFirst());
            }
            figures.add(clientBackend(uris.get("nbdkit"), nbdcopy));
        } finally {
            for (AutoCloseable c : running.reversed()) {
                c.close();
            }
        }

        Samples kit = samples.get("nbdkit");
        for (boolean best : new boolean[] {true, false}) {
            System.out.println();
            System.out.println(best ? "Best of " + ROUNDS + " rounds:" : "Median of " + ROUNDS + " rounds:");
            System.out.println("| server | nbdcopy -C 1 (s) | MB/s | nbdcopy -C 4 (s) | MB/s | fio 4k randread qd64 (IOPS) | vs nbdkit (C1 / C4 / fio) |");
            System.out.println("|---|---|---|---|---|---|---|");
            for (var e : samples.entrySet()) {
                Samples r = e.getValue();
                double c1 = r.copy1.time(best);
                double c4 = r.copy4.time(best);
                double iops = r.iops.rate(best);
                System.out.printf(Locale.ROOT, "| %s | %.3f | %.0f | %.3f | %.0f | %.0f | %.2f / %.2f / %.2f |%n", e.getKey(),
                        c1, mb(c1), c4, mb(c4), iops, kit.copy1.time(best) / c1, kit.copy4.time(best) / c4,
                        iops / kit.iops.rate(best));
            }
        }
        System.out.println("(ratios > 1: faster than nbdkit; servers measured in turn, round after round)");
        System.out.println();
        System.out.println("Server CPU time (user+sys, all its threads) to serve the 1 GiB copy, median: less load-sensitive than wall time");
        System.out.println("| server | CPU s, -C 1 | CPU s, -C 4 | vs nbdkit (C1 / C4) |");
        System.out.println("|---|---|---|---|");
        for (var e : samples.entrySet()) {
            Samples r = e.getValue();
            System.out.printf(Locale.ROOT, "| %s | %.2f | %.2f | %.2f / %.2f |%n", e.getKey(), r.cpu1.median(), r.cpu4.median(),
                    kit.cpu1.median() / r.cpu1.median(), kit.cpu4.median() / r.cpu4.median());
        }
        System.out.println("(CPU ratios > 1: less CPU than nbdkit; nbd-server forks per connection: its children are counted"
                + " once they exit; the tapdisk4j figure is this whole JVM (JIT and GC threads, the idle harness) without its nbdcopy children)");
        Samples ours = samples.get("tapdisk4j");
        for (var e : samples.entrySet()) {
            if (e.getKey().equals("tapdisk4j")) {
                continue;
            }
            Samples r = e.getValue();
            figures.add(new io.tapdisk4j.testsupport.PeerFigure("NBD export", "nbdcopy -C 1, 1 GiB", e.getKey(),
                    ours.copy1.time(true), r.copy1.time(true), "s", false));
            figures.add(new io.tapdisk4j.testsupport.PeerFigure("NBD export", "nbdcopy -C 4, 1 GiB", e.getKey(),
                    ours.copy4.time(true), r.copy4.time(true), "s", false));
            figures.add(new io.tapdisk4j.testsupport.PeerFigure("NBD export", "fio 4k randread qd64", e.getKey(),
                    ours.iops.rate(true), r.iops.rate(true), "IOPS", true));
        }
        return figures;
    }

    /** One figure's measurements over the rounds. */
    static final class Series {
        private final List<Double> values = new ArrayList<>();

        void add(double v) {
            values.add(v);
        }

        double median() {
            List<Double> v = values.stream().sorted().toList();
            int n = v.size();
            return n % 2 == 1 ? v.get(n / 2) : (v.get(n / 2 - 1) + v.get(n / 2)) / 2;
        }

        /** A duration: the best is the shortest. */
        double time(boolean best) {
            return best ? values.stream().mapToDouble(Double::doubleValue).min().orElseThrow() : median();
        }

        /** A rate: the best is the highest. */
        double rate(boolean best) {
            return best ? values.stream().mapToDouble(Double::doubleValue).max().orElseThrow() : median();
        }
    }

    /** One server's series: copy times at 1 and 4 connections, its CPU time for each, fio IOPS. */
    static final class Samples {
        final Series copy1 = new Series();
        final Series copy4 = new Series();
        final Series cpu1 = new Series();
        final Series cpu4 = new Series();
        final Series iops = new Series();
    }

    static double mb(double seconds) {
        return SIZE / 1e6 / seconds;
    }

    static PeerProcess start(Path dir, String name, int port, List<String> cmd, Path pid) throws Exception {
        PeerProcess p = PeerProcess.start(name, cmd, dir, pid);
        if (pid != null) {
            p.awaitLauncherExit(Duration.ofSeconds(20));
        }
        Ports.awaitListening(port, Duration.ofSeconds(20), pid == null ? p.process() : null);
        return p;
    }

    static void prepare(Path image) throws Exception {
        if (!Files.exists(image) || Files.size(image) != SIZE) {
            try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
                byte[] b = new byte[1 << 20];
                Random r = new Random(1);
                for (long at = 0; at < SIZE; at += b.length) {
                    r.nextBytes(b);
                    f.write(b);
                }
            }
        }
        // Into the page cache: every server reads the same cached file.
        try (var in = Files.newInputStream(image)) {
            byte[] b = new byte[1 << 20];
            while (in.read(b) > 0) {
                // reading is the point
            }
        }
    }

    static double memcpy() {
        ByteBuf src = Buffers.direct(1 << 30);
        src.writeZero(1 << 30); // touch every page: untouched pages would all map the one zero page
        ByteBuf dst = Buffers.direct(1 << 20);
        double best = 0;
        for (int round = 0; round < 3; round++) {
            long t = System.nanoTime();
            for (int at = 0; at < (1 << 30); at += 1 << 20) {
                dst.setBytes(0, src, at, 1 << 20);
            }
            best = Math.max(best, (1L << 30) / 1e6 / ((System.nanoTime() - t) / 1e9));
        }
        src.release();
        dst.release();
        return best;
    }

    static double fioIops(String fio, String uri, int seconds) throws Exception {
        String out = Run.exec(List.of(fio, "--name=rr", "--ioengine=nbd", "--uri=" + uri, "--rw=randread", "--bs=4k",
                "--iodepth=64", "--size=1g", "--runtime=" + seconds, "--time_based", "--readonly",
                "--output-format=json")).ok().output();
        Matcher m = Pattern.compile("\"read\"\\s*:\\s*\\{[^}]*?\"iops\"\\s*:\\s*([0-9.]+)").matcher(out);
        if (!m.find()) {
            throw new AssertionError("no IOPS in fio output:\n" + out);
        }
        return Double.parseDouble(m.group(1));
    }

    static PeerProcess kit(PeerProcess p, Map<String, Long> pids, String name) {
        pids.put(name, p.pid().orElseThrow(() -> new AssertionError(name + ": no pid")));
        return p;
    }

    /**
     * user+sys CPU seconds of a server process and its threads (/proc/PID/stat), plus its waited-for children
     * (nbd-server forks one per connection) except for this JVM, whose children are the nbdcopy clients.
     */
    static double cpuSeconds(long pid) throws Exception {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        // fields after the command: state(3) ... utime(14) stime(15) cutime(16) cstime(17), 1-based in proc(5)
        long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
        if (pid != ProcessHandle.current().pid()) {
            ticks += Long.parseLong(f[13]) + Long.parseLong(f[14]);
        }
        return ticks / 100.0; // USER_HZ is 100 on Linux
    }

    static double time(List<String> cmd) throws Exception {
        long t = System.nanoTime();
        Run.exec(cmd).ok();
        return (System.nanoTime() - t) / 1e9;
    }

    /** tapdisk4j's nbd:// backend reading the whole export, against nbdcopy doing the same. */
    static io.tapdisk4j.testsupport.PeerFigure clientBackend(String uri, String nbdcopy) throws Exception {
        Series ours = new Series();
        Series theirs = new Series();
        // The first rounds are not counted: they warm both up (in a fresh JVM the JIT's compilation time still
        // grew by about 0.6 s per 1 GiB read over the first six reads, and levelled off after the eighth).
        int warmUp = 6;
        for (int i = 0; i < warmUp + ROUNDS; i++) {
            double t = clientRead(uri);
            double c = time(List.of(nbdcopy, "--no-extents", "-C", "4", "-R", "64", uri, "null:"));
            if (i >= warmUp) {
                ours.add(t);
                theirs.add(c);
            }
        }
        for (boolean best : new boolean[] {true, false}) {
            double t = ours.time(best);
            double c = theirs.time(best);
            System.out.printf(Locale.ROOT, "client backend from nbdkit (%s of %d): tapdisk4j %.3f s (%.0f MB/s, 4 conns, 64 x 256 KiB"
                    + " in flight) vs nbdcopy -C 4 -R 64 %.3f s (%.0f MB/s): ratio %.2f%n", best ? "best" : "median", ROUNDS,
                    t, mb(t), c, mb(c), c / t);
        }
        return new io.tapdisk4j.testsupport.PeerFigure("NBD client", "read 1 GiB from nbdkit", "nbdcopy -C 4", ours.time(true),
                theirs.time(true), "s", false);
    }

    /**
     * Seconds for tapdisk4j's nbd:// backend to read the whole export with 4 connections and 64 reads of
     * 256 KiB in flight. Each completion issues the next read on the thread it completes on, as an
     * event-driven user (the ring server) does: no thread of the harness wakes up per read.
     */
    static double clientRead(String uri) throws Exception {
        try (BlockDevice d = BlockDevices.loadDefault().open(uri + "?connections=4")) {
            int chunk = 256 << 10;
            AtomicLong next = new AtomicLong();
            AtomicLong done = new AtomicLong();
            CompletableFuture<Void> all = new CompletableFuture<>();
            Runnable[] issue = new Runnable[1];
            issue[0] = () -> {
                long at = next.getAndAdd(chunk);
                if (at >= SIZE) {
                    return;
                }
                d.read(at, chunk).whenComplete((b, err) -> {
                    if (b != null) {
                        b.release();
                    }
                    if (err != null) {
                        all.completeExceptionally(err);
                    } else if (done.addAndGet(chunk) == SIZE) {
                        all.complete(null);
                    } else {
                        issue[0].run();
                    }
                });
            };
            long t = System.nanoTime();
            for (int i = 0; i < 64; i++) {
                issue[0].run();
            }
            all.get(120, java.util.concurrent.TimeUnit.SECONDS);
            return (System.nanoTime() - t) / 1e9;
        }
    }

}
