package io.tapdisk4j.app;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Sizes;
import io.tapdisk4j.block.cbt.CbtLogs;
import io.tapdisk4j.testsupport.Medians;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code tapdisk4j bench cbt}: what changed-block tracking costs on the write path (ring server and NBD export,
 * with and without a log, alternating in one run; every tracked run starts from an empty log, so each
 * first write to a block pays its log write), and an incremental backup of 1% changed blocks against a
 * full one (whole {@code tapdisk4j vdi backup} processes).
 */
@Command(name = "cbt", description = "Changed-block tracking: write-path cost (ring, NBD) with and without CBT, "
        + "and incremental vs full backup time.")
final class BenchCbtCommand implements Callable<Integer> {

    @Option(names = "--dir", description = "Scratch directory (default: a new one under /var/tmp).") Path dir;
    @Option(names = "--size", defaultValue = "10G", description = "VDI size for the backup figure (default ${DEFAULT-VALUE}).") String size;
    @Option(names = "--write-size", defaultValue = "1G", description = "Device size for the write-path figures.") String writeSize;
    @Option(names = "--seconds", defaultValue = "3", description = "Seconds per ring point.") int seconds;
    @Option(names = "--rounds", defaultValue = "7", description = "Alternating rounds per write-path figure (default ${DEFAULT-VALUE}).") int rounds;
    @Option(names = "--file-dir", defaultValue = "/dev/shm", description = "Where the file devices of the write-path figures live"
            + " (default ${DEFAULT-VALUE}: tmpfs, so the figure is the write path, not the disk).") Path fileDir;
    @Option(names = "--block-size", defaultValue = "64K", description = "Write size (default ${DEFAULT-VALUE}).") String blockSize;
    @Option(names = "--skip-backup", description = "Only the write-path figures.") boolean skipBackup;
    @Option(names = "--skip-writes", description = "Only the backup figure.") boolean skipWrites;

    @Override
    public Integer call() throws Exception {
        BenchCommand.quietDeviceLogs();
        Path d = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory(Path.of("/var/tmp"), "cbt-bench");
        System.out.println("changed-block tracking benchmark, " + java.time.LocalDateTime.now().withNano(0) + ", "
                + Runtime.getRuntime().availableProcessors() + " CPUs, scratch " + d);
        if (!skipWrites) {
            trackingCpu(d);
            long ws = Sizes.parse(writeSize);
            Path files = Files.createDirectories(fileDir).resolve("tapdisk4j-cbt-bench-" + ProcessHandle.current().pid());
            Files.createDirectories(files);
            try {
                List<String> ratios = new ArrayList<>();
                ratios.add(ringCost("null:?size=" + ws + "&cbtlog=" + d.resolve("null.cbtlog"), "null: device (tracking alone)"));
                ratios.add(ringCost("file://" + filled(files.resolve("ring.raw"), ws), writeSize + " file in " + fileDir));
                ratios.addAll(nbdCost("null:?size=" + ws + "&cbtlog=" + d.resolve("nbd-null.cbtlog"), "null: device (tracking alone)"));
                ratios.addAll(nbdCost("file://" + filled(files.resolve("nbd.raw"), ws), writeSize + " file in " + fileDir));
                System.out.println("summary, " + blockSize + " writes, with CBT / without CBT (medians of " + rounds + " alternating rounds):");
                ratios.forEach(r -> System.out.println("  " + r));
            } finally {
                try (var s = Files.list(files)) {
                    for (Path p : s.toList()) {
                        Files.delete(p);
                    }
                }
                Files.delete(files);
            }
        }
        if (!skipBackup) {
            backup(d);
        }
        return 0;
    }

    private String ringCost(String uri, String what) throws Exception {
        double[][] gbs = new double[2][rounds];
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < 2; i++) {
                int cbt = r % 2 == 0 ? i : 1 - i; // the order swaps each round: going second must not count
                freshLog(uri, cbt == 1, Sizes.parse(writeSize));
                String out = run(List.of("bench", "ring", "--device", uri, "--rw", "write", "--block-size", blockSize,
                        "--seconds", Integer.toString(seconds)), null);
                Matcher m = Pattern.compile(":\\s+([0-9.]+) GB/s").matcher(out);
                String last = null;
                while (m.find()) {
                    last = m.group(1);
                }
                if (last == null) {
                    throw new IllegalStateException("no figure from bench ring:\n" + out);
                }
                gbs[cbt][r] = Double.parseDouble(last);
            }
        }
        CbtLogs.disable(DeviceUri.parse(uri));
        return report("ring server, " + what + " (GB/s)", gbs, true);
    }

    /**
     * CPU time of one thread issuing 64 KiB writes to a null: device, with and without the tracking decorator
     * (thread CPU time, so other processes on a busy machine do not count). The first pass over the device
     * pays each block's log write; later passes find the bits set.
     */
    private void trackingCpu(Path d) throws Exception {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        int bs = (int) Sizes.parse(blockSize);
        long devSize = Sizes.parse(writeSize);
        long blocks = devSize / bs;
        long rewrites = 2_000_000; // enough that a round lasts ~0.1 s of CPU: the per-write figure settles to a ns
        double[][] ns = new double[2][rounds];
        double[][] firstPass = new double[2][rounds];
        io.netty.buffer.ByteBuf buf = Buffers.direct(bs).writeZero(bs);
        try {
            for (int r = 0; r < rounds; r++) {
                for (int cbt = 0; cbt < 2; cbt++) {
                    Path log = d.resolve("cpu.cbtlog");
                    Files.deleteIfExists(log);
                    String uri = "null:?size=" + devSize + (cbt == 1 ? "&cbtlog=" + log : "");
                    if (cbt == 1) {
                        CbtLogs.enable(DeviceUri.parse(uri), devSize);
                    }
                    try (BlockDevice dev = BlockDevices.loadDefault().open(uri)) {
                        long t0 = mx.getCurrentThreadCpuTime();
                        for (long i = 0; i < blocks; i++) { // every block's first write: each pays its log store
                            dev.write(i * bs, buf.retain(), false).join();
                        }
                        long t1 = mx.getCurrentThreadCpuTime();
                        for (long i = 0; i < rewrites; i++) { // blocks already marked
                            dev.write((i % blocks) * bs, buf.retain(), false).join();
                        }
                        long t2 = mx.getCurrentThreadCpuTime();
                        ns[cbt][r] = (double) (t2 - t1) / rewrites;
                        firstPass[cbt][r] = (double) (t1 - t0) / blocks;
                    }
                }
            }
        } finally {
            buf.release();
        }
        double off = Medians.of(ns[0]);
        double on = Medians.of(ns[1]);
        // At the ring server's 31 GB/s for 64 KiB writes (README, copy path) a 64 KiB write takes about 2.1 us.
        double ringNs = bs / 31.0;
        System.out.printf(Locale.ROOT, "tracking CPU per %s write on a null: device (thread CPU time, ns): without %s, with %s"
                        + " (blocks already marked); first write to each block, with %s: +%.1f ns marked, +%.0f ns first write;"
                        + " against a %.0f ns ring write (31 GB/s): %.1f%% marked, %.1f%% first write%n",
                blockSize, Arrays.toString(round(ns[0])), Arrays.toString(round(ns[1])), Arrays.toString(round(firstPass[1])),
                on - off, Medians.of(firstPass[1]) - Medians.of(firstPass[0]), ringNs, 100 * (on - off) / ringNs,
                100 * (Medians.of(firstPass[1]) - Medians.of(firstPass[0])) / ringNs);
        // Other load inflates a thread's CPU time too (shared caches, hyperthreads), only ever upwards: the
        // least-disturbed round of each side is the other estimate of the decorator's own cost.
        System.out.printf(Locale.ROOT, "  fastest rounds: without %d ns, with %d ns marked (%+d ns); first writes without %d ns,"
                        + " with %d ns (%+d ns)%n", Math.round(min(ns[0])), Math.round(min(ns[1])),
                Math.round(min(ns[1]) - min(ns[0])), Math.round(min(firstPass[0])), Math.round(min(firstPass[1])),
                Math.round(min(firstPass[1]) - min(firstPass[0])));
        Files.deleteIfExists(d.resolve("cpu.cbtlog"));
    }

    private static double min(double[] v) {
        return Arrays.stream(v).min().orElse(Double.NaN);
    }

    private static long[] round(double[] v) {
        return Arrays.stream(v).mapToLong(Math::round).toArray();
    }

    /**
     * fio's nbd engine against {@code tapdisk4j export}: whole fio processes writing the device four times
     * over after a warm-up on its first quarter, so each round has first writes to three quarters of the
     * blocks (a fresh log) and rewrites of marked ones.
     */
    private List<String> nbdCost(String uri, String what) throws Exception {
        String fio = which("fio");
        long ws = Sizes.parse(writeSize);
        double[][] gbs = new double[2][rounds];
        double[][] cpu = new double[2][rounds];
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < 2; i++) {
                int cbt = r % 2 == 0 ? i : 1 - i; // the order swaps each round
                freshLog(uri, cbt == 1, ws);
                int port = freePort();
                Process export = start(List.of("export", uri, "--port", Integer.toString(port), "--name", "d"));
                try {
                    awaitPort(port, export);
                    // Warm-up, unmeasured: the JIT compiles the write path (with tracking, more of it) in the
                    // first second or two, which counted as tracking cost before (+10% CPU per GB in one run of
                    // 15 rounds, nothing in steady state). Only the device's first quarter, so that the first
                    // writes to three quarters of its blocks stay in the measured part.
                    fioWrite(fio, port, ws / 4, ws);
                    double started = cpuSeconds(export.pid()); // the JVM's start-up and warm-up, not the writes
                    long t0 = System.nanoTime();
                    fioWrite(fio, port, ws, 4 * ws);
                    gbs[cbt][r] = 4 * ws / ((System.nanoTime() - t0) / 1e9) / 1e9;
                    cpu[cbt][r] = (cpuSeconds(export.pid()) - started) / (4 * ws / 1e9);
                } finally {
                    export.destroy();
                    export.waitFor(60, TimeUnit.SECONDS);
                }
            }
        }
        CbtLogs.disable(DeviceUri.parse(uri));
        return List.of(report("NBD export, whole fio processes writing " + writeSize + " four times, " + what + " (GB/s)", gbs, true),
                report("NBD export, " + what + ": CPU seconds of the export process per GB written (after start-up;"
                        + " other load on the machine does not count)", cpu, false));
    }

    /** One fio process writing {@code bytes} sequentially over the export's first {@code size} bytes. */
    private void fioWrite(String fio, int port, long size, long bytes) throws Exception {
        exec(List.of(fio, "--name=w", "--ioengine=nbd", "--uri=nbd://127.0.0.1:" + port + "/d", "--rw=write",
                "--bs=" + blockSize.toLowerCase(Locale.ROOT), "--iodepth=16", "--size=" + size,
                "--io_size=" + bytes, "--output=/dev/null"));
    }

    /** User + system CPU time of a live process, from /proc (clock ticks of 10 ms). */
    private static double cpuSeconds(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" "); // f[0] is field 3, the state
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
    }

    private void backup(Path d) throws Exception {
        long bytes = Sizes.parse(size);
        String vdi = "file://" + d.resolve("vdi.vhd");
        for (String f : List.of("vdi.vhd", "vdi.cbtlog", "full.raw", "inc.raw", "full.cbtlog", "inc.cbtlog")) {
            Files.deleteIfExists(d.resolve(f));
        }
        try (var s = Files.newDirectoryStream(d, "vdi.snap-*")) {
            for (Path p : s) {
                Files.delete(p);
            }
        }
        System.out.println("backup: filling a " + size + " VHD with data...");
        new io.tapdisk4j.vhd.VdiOperations().create(vdi, bytes, "vhd", false);
        fill(vdi, bytes);
        new VdiCbtCommand.Enable().uriCall(vdi);
        String base = snapshot(vdi);
        double fullFirst = timed(List.of("vdi", "backup", base, "file://" + d.resolve("inc.raw")));
        long blocks = bytes / (64 * 1024);
        long changed = Math.max(1, blocks / 100);
        try (BlockDevice dev = BlockDevices.loadDefault().open(vdi)) {
            Random rnd = new Random(1);
            List<CompletableFuture<Void>> inFlight = new ArrayList<>();
            java.util.BitSet seen = new java.util.BitSet();
            while (seen.cardinality() < changed) {
                int b = rnd.nextInt((int) blocks);
                if (!seen.get(b)) {
                    seen.set(b);
                    byte[] data = new byte[64 * 1024];
                    rnd.nextBytes(data);
                    inFlight.add(dev.write((long) b * 64 * 1024, Buffers.direct(data.length).writeBytes(data), false));
                }
            }
            for (CompletableFuture<Void> f : inFlight) {
                f.get(60, TimeUnit.SECONDS);
            }
            dev.flush().get(60, TimeUnit.SECONDS);
        }
        String newer = snapshot(vdi);
        double full = timed(List.of("vdi", "backup", newer, "file://" + d.resolve("full.raw")));
        double inc = timed(List.of("vdi", "backup", newer, "file://" + d.resolve("inc.raw"), "--since", base));
        exec(List.of("cmp", d.resolve("full.raw").toString(), d.resolve("inc.raw").toString()));
        System.out.printf(Locale.ROOT, "backup of a %s VDI with %d of %d blocks (1%%) changed: full %.2f s (first full %.2f s),"
                        + " incremental %.2f s: full / incremental = %.1fx (backups compared equal with cmp)%n",
                size, changed, blocks, full, fullFirst, inc, full / inc);
    }

    private static String snapshot(String vdi) throws Exception {
        CbtSnapshots cbt = CbtSnapshots.before(vdi);
        String parent = new io.tapdisk4j.vhd.VdiOperations().snapshot(vdi);
        cbt.after(parent);
        return parent;
    }

    private static void fill(String uri, long bytes) throws Exception {
        try (BlockDevice dev = BlockDevices.loadDefault().open(uri)) {
            byte[] chunk = new byte[1 << 20];
            new Random(7).nextBytes(chunk);
            ArrayList<CompletableFuture<Void>> inFlight = new ArrayList<>();
            for (long at = 0; at < bytes; at += chunk.length) {
                int n = (int) Math.min(chunk.length, bytes - at);
                chunk[0] = (byte) (at >>> 20); // each MiB differs
                inFlight.add(dev.write(at, Buffers.direct(n).writeBytes(chunk, 0, n), false));
                if (inFlight.size() >= 16) {
                    inFlight.removeFirst().get(60, TimeUnit.SECONDS);
                }
            }
            for (CompletableFuture<Void> f : inFlight) {
                f.get(60, TimeUnit.SECONDS);
            }
            dev.flush().get(60, TimeUnit.SECONDS);
        }
    }

    /** Prints one figure's rounds and returns its summary line: the ratio of medians and the spread of each side. */
    private static String report(String what, double[][] v, boolean higherIsBetter) {
        double off = Medians.of(v[0]);
        double on = Medians.of(v[1]);
        double cost = higherIsBetter ? (off - on) / off : (on - off) / off;
        System.out.printf(Locale.ROOT, "%s: without CBT %s, with CBT %s%n", what, threeDigits(v[0]), threeDigits(v[1]));
        return String.format(Locale.ROOT, "%s: with %.3f, without %.3f, ratio %.3f, tracking costs %.1f%% (spread without %.1f%%, with %.1f%%)",
                what, on, off, on / off, 100 * cost, spread(v[0]), spread(v[1]));
    }

    private static String threeDigits(double[] v) {
        return Arrays.stream(v).mapToObj(x -> String.format(Locale.ROOT, "%.3f", x))
                .collect(java.util.stream.Collectors.joining(", ", "[", "]"));
    }

    /** Half the interquartile range as a share of the median: how far a typical round strays. */
    private static double spread(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        double q1 = s[(s.length - 1) / 4];
        double q3 = s[s.length - 1 - (s.length - 1) / 4];
        return 100 * (q3 - q1) / 2 / Medians.of(v);
    }

    private static void freshLog(String uri, boolean on, long size) throws IOException {
        DeviceUri u = DeviceUri.parse(uri);
        CbtLogs.disable(u);
        if (on) {
            CbtLogs.enable(u, size);
        }
    }

    /**
     * A file of {@code size} bytes written through once: the first writes to a sparse file in tmpfs allocate
     * its pages, several times slower than rewrites, and only the first round would pay for it (with
     * tracking or without, as the order falls), which the alternating rounds cannot cancel out.
     */
    private static Path filled(Path p, long size) throws IOException {
        byte[] zeros = new byte[1 << 20];
        try (var f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
            for (long done = 0; done < size; done += zeros.length) {
                f.write(zeros, 0, (int) Math.min(zeros.length, size - done));
            }
        }
        return p;
    }

    private static List<String> self(List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-XX:+UseG1GC", "-Xmx512m",
                "-XX:MaxDirectMemorySize=4g", "-cp", System.getProperty("java.class.path"), "io.tapdisk4j.app.Main"));
        cmd.addAll(args);
        return cmd;
    }

    private static Process start(List<String> args) throws IOException {
        return new ProcessBuilder(self(args)).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    private static String run(List<String> args, String unused) throws Exception {
        return exec(self(args));
    }

    private static double timed(List<String> args) throws Exception {
        long t0 = System.nanoTime();
        exec(self(args));
        return (System.nanoTime() - t0) / 1e9;
    }

    private static String exec(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed:\n" + out);
        }
        return out;
    }

    private static String which(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            Path p = Path.of(dir, program);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new IllegalStateException(program + " is not installed: apt-get install " + program);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void awaitPort(int port, Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try (Socket s = new Socket("127.0.0.1", port)) {
                return;
            } catch (IOException notYet) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    throw new IllegalStateException("export did not start listening on " + port);
                }
                p.waitFor(50, TimeUnit.MILLISECONDS);
            }
        }
    }
}
