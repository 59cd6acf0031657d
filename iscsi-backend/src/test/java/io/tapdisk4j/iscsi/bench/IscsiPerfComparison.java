package io.tapdisk4j.iscsi.bench;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.iscsi.device.IscsiBlockDevice;
import io.tapdisk4j.iscsi.device.IscsiUrl;
import io.tapdisk4j.iscsi.login.SessionParameters;
import io.tapdisk4j.iscsi.session.SessionConfig;
import io.tapdisk4j.testsupport.peers.Tgtd;
import io.tapdisk4j.testsupport.PeerFigure;
import io.tapdisk4j.testsupport.Peers;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The closing-note benchmark: on one tgtd LUN, libiscsi's {@code iscsi-perf} and {@link IscsiBlockDevice}
 * side by side, in one run: sequential read at 128 KiB and random read at 4 KiB, 32 requests in flight
 * each, on a tgtd as installed and on one whose allocator keeps read buffers on its heap ({@link TargetSetup}),
 * plus a memcpy ceiling measured in the same run. Not a test (timings are never asserted); run it
 * with {@code java -cp <test classpath> io.tapdisk4j.iscsi.bench.IscsiPerfComparison [seconds] [lun MiB] [rounds]}.
 *
 * <p>Same work on both sides: the same LUN of the same tgtd, READ(16) of the same size, the same number in
 * flight, and our session negotiates what libiscsi 1.19 asks for (MaxRecvDataSegmentLength,
 * MaxBurstLength and FirstBurstLength 262144, ImmediateData Yes, InitialR2T No, no digests). The two
 * clients alternate round by round (the order swapped each round) so that load from elsewhere on the
 * machine hits both alike; medians are compared. Each run also reports CPU time per I/O of the client
 * and of tgtd, which shows whether a difference comes from the target's work or the client's.
 */
public final class IscsiPerfComparison {

    record Workload(String name, int blockSize, boolean random) {
    }

    /** One run: I/Os per second, and CPU seconds of the client and of tgtd spent during it. */
    record Result(double iops, double mbPerSecond, double clientCpu, double tgtdCpu, double seconds) {
        double clientMicrosPerIo() {
            return clientCpu / (iops * seconds) * 1e6;
        }

        double tgtdMicrosPerIo() {
            return tgtdCpu / (iops * seconds) * 1e6;
        }
    }

    /** libiscsi 1.19's login offers (lib/init.c), which iscsi-perf does not let one change. */
    static final int LIBISCSI_SEGMENT = 262144;
    static final int LIBISCSI_MAX_BURST = 262144;
    static final int LIBISCSI_FIRST_BURST = 262144;
    static final int WARM_UP_SECONDS = 5;

    private static final Pattern AVERAGE = Pattern.compile("iops average (\\d+) \\((\\d+) MB/s\\)");
    private static final Pattern TIMES = Pattern.compile("(\\d+)m([\\d.]+)s\\s+(\\d+)m([\\d.]+)s");

    public static void main(String[] args) throws Exception {
        run(args.length > 0 ? Integer.parseInt(args[0]) : 5, args.length > 1 ? Integer.parseInt(args[1]) : 512,
                args.length > 2 ? Integer.parseInt(args[2]) : 5);
    }

    /**
     * A tgtd to compare the clients on. tgt allocates each command's buffer with posix_memalign(page, length). For
     * a 128 KiB read glibc serves that with mmap every time: the request, with its alignment slack, stays just
     * above the dynamic mmap threshold that freeing such a buffer raises it to. tgtd then maps, faults in and
     * unmaps every read's buffer (perf stat: one munmap per read), and more than half of its CPU per read goes
     * to page faults, mmap_lock waits and TLB-shootdown IPIs. That caps both clients at the same rate. With
     * glibc's threshold set to 4 MiB the buffers stay on tgtd's heap. tgtd then serves about twice the reads,
     * and the clients' own costs show. Both setups run, one after the other, in every comparison.
     */
    record TargetSetup(String name, List<String> environment) {
    }

    static final List<TargetSetup> TARGETS = List.of(
            new TargetSetup("as installed", List.of()),
            new TargetSetup("mmap threshold 4 MiB", List.of("GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4194304")));

    /** Runs both workloads against iscsi-perf on each tgtd setup, prints the table, and returns the figures for `bench peers`. */
    public static List<PeerFigure> run(int seconds, int lunMiB, int rounds) throws Exception {
        List<PeerFigure> figures = new ArrayList<>();
        String perf = Peers.require("iscsi-perf", "libiscsi-bin");
        Path dir = Files.createTempDirectory("iscsi-bench");
        Path disk = dir.resolve("lun.raw");
        fill(disk, (long) lunMiB << 20);
        List<String> rows = new ArrayList<>();
        double memcpy = memcpyGBps();
        String loadBefore = Files.readString(Path.of("/proc/loadavg")).trim();
        String negotiated = "";
        try {
            for (int i = 0; i < TARGETS.size(); i++) {
                negotiated = compare(TARGETS.get(i), dir.resolve("tgtd-" + i), disk, perf, seconds, rounds, rows, figures);
            }
        } finally {
            Files.deleteIfExists(disk);
        }
        String loadAfter = Files.readString(Path.of("/proc/loadavg")).trim();
        System.out.printf("iSCSI read benchmark: tgtd on 127.0.0.1, %d MiB LUN (file in page cache), READ(16), %d in flight, "
                        + "%d alternating runs of %d s each (median), %d cores, load average before: %s, after: %s%n",
                lunMiB, DEPTH, rounds, seconds, Runtime.getRuntime().availableProcessors(), loadBefore, loadAfter);
        System.out.printf("negotiated: tapdisk4j %s; iscsi-perf (libiscsi 1.19 offers) MaxRecvDataSegmentLength=%d, "
                + "MaxBurstLength=%d, FirstBurstLength=%d, ImmediateData=Yes, InitialR2T=No, digests None,CRC32C "
                + "(tgt answers None)%n", negotiated, LIBISCSI_SEGMENT, LIBISCSI_MAX_BURST, LIBISCSI_FIRST_BURST);
        System.out.println("| tgtd | workload | iscsi-perf IOPS | MB/s | client us/IO | tgtd us/IO | tapdisk4j IOPS | MB/s "
                + "| client us/IO | tgtd us/IO | ratio of medians | median of round ratios "
                + "| all runs (IOPS) iscsi-perf / tapdisk4j |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        rows.forEach(System.out::println);
        System.out.printf("CPU per I/O: user+system time of the client process (the whole JVM for tapdisk4j) and of all "
                + "tgtd threads during each run, over the I/Os it completed. memcpy ceiling in this run: %.1f GB/s "
                + "(one core, 1 MiB blocks)%n", memcpy);
        return figures;
    }

    static final int DEPTH = 32;

    /** One tgtd of the given setup, both workloads, both clients alternating; returns what our session negotiated. */
    private static String compare(TargetSetup target, Path tgtdDir, Path disk, String perf, int seconds, int rounds,
                                  List<String> rows, List<PeerFigure> figures) throws Exception {
        List<Workload> workloads = List.of(new Workload("seq read 128 KiB", 128 * 1024, false),
                new Workload("rand read 4 KiB", 4096, true));
        try (Tgtd tgtd = Tgtd.start(tgtdDir, target.environment()).targetWithLun(disk)) {
            String url = tgtd.lunUrl(null, 1);
            IscsiUrl parsed = IscsiUrl.parse(DeviceUri.parse(url));
            SessionConfig config = parsed.sessionConfig();
            config = config.withLogin(config.login().withBursts(LIBISCSI_SEGMENT, LIBISCSI_MAX_BURST,
                    LIBISCSI_FIRST_BURST, true, false));
            try (IscsiBlockDevice device = IscsiBlockDevice.open(parsed, config, true)) {
                for (Workload w : workloads) {
                    // Warm-up (page cache; JIT, which keeps compiling for a few seconds), then the two clients
                    // alternate (order swapped each round).
                    ours(device, w, DEPTH, WARM_UP_SECONDS, tgtd.pid());
                    List<Result> theirs = new ArrayList<>();
                    List<Result> mine = new ArrayList<>();
                    for (int round = 0; round < rounds; round++) {
                        if (round % 2 == 0) {
                            theirs.add(iscsiPerf(perf, url, w, DEPTH, seconds, tgtd.pid()));
                            mine.add(ours(device, w, DEPTH, seconds, tgtd.pid()));
                        } else {
                            mine.add(ours(device, w, DEPTH, seconds, tgtd.pid()));
                            theirs.add(iscsiPerf(perf, url, w, DEPTH, seconds, tgtd.pid()));
                        }
                    }
                    Result t = median(theirs);
                    Result m = median(mine);
                    // Each round's two runs are next to each other in time, so their ratio is less exposed to load
                    // from elsewhere than the ratio of the medians; both are shown.
                    List<Double> paired = new ArrayList<>();
                    for (int i = 0; i < rounds; i++) {
                        paired.add(mine.get(i).iops / theirs.get(i).iops);
                    }
                    paired.sort(null);
                    rows.add(String.format("| %s | %-16s | %9.0f | %6.0f | %5.1f | %5.1f | %9.0f | %6.0f | %5.1f | %5.1f | %5.2f | %5.2f | %s / %s |",
                            target.name(), w.name, t.iops, t.mbPerSecond, t.clientMicrosPerIo(), t.tgtdMicrosPerIo(),
                            m.iops, m.mbPerSecond, m.clientMicrosPerIo(), m.tgtdMicrosPerIo(), m.iops / t.iops,
                            paired.get(rounds / 2), iopsList(theirs), iopsList(mine)));
                    figures.add(new PeerFigure("iSCSI backend", w.name + ", " + DEPTH + " in flight, tgtd "
                            + target.name(), "libiscsi iscsi-perf", m.iops, t.iops, "IOPS", true));
                }
                return describe(device.session().parameters());
            }
        }
    }

    private static String describe(SessionParameters p) {
        return String.format("MaxRecvDataSegmentLength=%d (target's %d), MaxBurstLength=%d, FirstBurstLength=%d, "
                        + "ImmediateData=%s, InitialR2T=%s, digests %s/%s", p.maxRecvDataSegmentLength(),
                p.maxXmitDataSegmentLength(), p.maxBurstLength(), p.firstBurstLength(), yes(p.immediateData()),
                yes(p.initialR2T()), p.headerDigest() ? "CRC32C" : "None", p.dataDigest() ? "CRC32C" : "None");
    }

    private static String yes(boolean b) {
        return b ? "Yes" : "No";
    }

    static Result median(List<Result> results) {
        List<Result> sorted = new ArrayList<>(results);
        sorted.sort(Comparator.comparingDouble(Result::iops));
        return sorted.get(sorted.size() / 2);
    }

    static String iopsList(List<Result> results) {
        return String.join(",", results.stream().map(r -> String.format("%.0f", r.iops)).toList());
    }

    private static void fill(Path disk, long size) throws IOException {
        byte[] chunk = new byte[1 << 20];
        new Random(1).nextBytes(chunk);
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            for (long at = 0; at < size; at += chunk.length) {
                f.write(chunk);
            }
        }
    }

    /** User plus system CPU seconds of a process, all its threads (/proc/PID/stat fields 14 and 15). */
    static double cpuSeconds(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
    }

    /**
     * Runs iscsi-perf and parses its final "iops average N (M MB/s)" line. It runs under {@code sh}, whose
     * {@code times} then prints the CPU time its finished child used.
     */
    static Result iscsiPerf(String perf, String url, Workload w, int depth, int seconds, long tgtdPid) throws Exception {
        String cmd = "'" + perf + "' -t " + seconds + " -m " + depth + " -b " + (w.blockSize / 512)
                + (w.random ? " -r" : "") + " '" + url + "'; status=$?; times; exit $status";
        double tgtd0 = cpuSeconds(tgtdPid);
        Process p = new ProcessBuilder("sh", "-c", cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(seconds + 30L, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("iscsi-perf failed: " + out);
        }
        double tgtd = cpuSeconds(tgtdPid) - tgtd0;
        Matcher m = AVERAGE.matcher(out);
        String iops = null;
        while (m.find()) {
            iops = m.group(1);
        }
        if (iops == null) {
            throw new IOException("no average in iscsi-perf output: " + out);
        }
        // The second line of `times` is the children's user and system time.
        Matcher t = TIMES.matcher(out);
        double client = 0;
        for (int line = 0; t.find(); line++) {
            if (line == 1) {
                client = Integer.parseInt(t.group(1)) * 60 + Double.parseDouble(t.group(2))
                        + Integer.parseInt(t.group(3)) * 60 + Double.parseDouble(t.group(4));
            }
        }
        double n = Double.parseDouble(iops);
        return new Result(n, n * w.blockSize / 1e6, client, tgtd, seconds);
    }

    /** {@code depth} reads always outstanding, each completion issuing the next, for {@code seconds}. */
    static Result ours(IscsiBlockDevice d, Workload w, int depth, int seconds, long tgtdPid) throws Exception {
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long blocks = d.size() / w.blockSize;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        AtomicLong done = new AtomicLong();
        AtomicLong next = new AtomicLong();
        CompletableFuture<Void> finished = new CompletableFuture<>();
        AtomicLong running = new AtomicLong(depth);
        double tgtd0 = cpuSeconds(tgtdPid);
        long cpu0 = os.getProcessCpuTime();
        long start = System.nanoTime();
        for (int i = 0; i < depth; i++) {
            issue(d, w, blocks, deadline, done, next, running, finished);
        }
        finished.get(seconds + 60L, TimeUnit.SECONDS);
        double elapsed = (System.nanoTime() - start) / 1e9;
        double client = (os.getProcessCpuTime() - cpu0) / 1e9;
        double tgtd = cpuSeconds(tgtdPid) - tgtd0;
        double iops = done.get() / elapsed;
        return new Result(iops, iops * w.blockSize / 1e6, client, tgtd, elapsed);
    }

    private static void issue(IscsiBlockDevice d, Workload w, long blocks, long deadline, AtomicLong done,
                              AtomicLong next, AtomicLong running, CompletableFuture<Void> finished) {
        if (System.nanoTime() >= deadline) {
            if (running.decrementAndGet() == 0) {
                finished.complete(null);
            }
            return;
        }
        long block = w.random ? ThreadLocalRandom.current().nextLong(blocks) : next.getAndIncrement() % blocks;
        d.read(block * w.blockSize, w.blockSize).whenComplete((buf, err) -> {
            if (err != null) {
                finished.completeExceptionally(err);
                return;
            }
            buf.release();
            done.incrementAndGet();
            issue(d, w, blocks, deadline, done, next, running, finished);
        });
    }

    static double memcpyGBps() {
        int size = 256 << 20;
        ByteBuf src = Buffers.direct(size);
        ByteBuf dst = Buffers.direct(size);
        try {
            src.writeZero(size);
            long bytes = 0;
            long start = System.nanoTime();
            for (int round = 0; round < 8; round++) {
                for (int at = 0; at < size; at += 1 << 20) {
                    dst.setBytes(at, src, at, 1 << 20);
                }
                bytes += size;
            }
            return bytes / ((System.nanoTime() - start) / 1e9) / 1e9;
        } finally {
            src.release();
            dst.release();
        }
    }
}
