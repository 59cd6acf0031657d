package io.tapdisk4j.iscsi.bench;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.iscsi.device.IscsiBlockDevice;
import io.tapdisk4j.iscsi.device.IscsiUrl;
import io.tapdisk4j.iscsi.testing.Tgtd;
import io.tapdisk4j.testsupport.Peers;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
 * each, plus a memcpy ceiling measured in the same run. Not a test (timings are never asserted); run it
 * with {@code java -cp <test classpath> io.tapdisk4j.iscsi.bench.IscsiPerfComparison [seconds] [lun MiB] [rounds]}.
 */
public final class IscsiPerfComparison {

    record Workload(String name, int blockSize, boolean random) {
    }

    record Result(double iops, double mbPerSecond) {
    }

    private static final Pattern AVERAGE = Pattern.compile("iops average (\\d+) \\((\\d+) MB/s\\)");

    public static void main(String[] args) throws Exception {
        run(args.length > 0 ? Integer.parseInt(args[0]) : 5, args.length > 1 ? Integer.parseInt(args[1]) : 512,
                args.length > 2 ? Integer.parseInt(args[2]) : 3);
    }

    /** Runs both workloads against iscsi-perf, prints the table, and returns the figures for `bench peers`. */
    public static List<io.tapdisk4j.testsupport.PeerFigure> run(int seconds, int lunMiB, int rounds) throws Exception {
        List<io.tapdisk4j.testsupport.PeerFigure> figures = new ArrayList<>();
        int depth = 32;
        String perf = Peers.require("iscsi-perf", "libiscsi-bin");
        Path dir = Files.createTempDirectory("iscsi-bench");
        Path disk = dir.resolve("lun.raw");
        fill(disk, (long) lunMiB << 20);
        List<Workload> workloads = List.of(new Workload("seq read 128 KiB", 128 * 1024, false),
                new Workload("rand read 4 KiB", 4096, true));
        List<String> rows = new ArrayList<>();
        double memcpy = memcpyGBps();
        String loadBefore = Files.readString(Path.of("/proc/loadavg")).trim();
        try (Tgtd tgtd = Tgtd.start(dir.resolve("tgtd")).targetWithLun(disk)) {
            String url = tgtd.lunUrl(null, 1);
            IscsiUrl parsed = IscsiUrl.parse(DeviceUri.parse(url));
            try (IscsiBlockDevice device = IscsiBlockDevice.open(parsed, parsed.sessionConfig(), true)) {
                for (Workload w : workloads) {
                    // Warm-up (JIT, page cache), then the two clients alternate (order swapped each round) so
                    // that load from other processes hits both alike; the median of each is reported.
                    ours(device, w, depth, 2);
                    List<Result> theirs = new ArrayList<>();
                    List<Result> mine = new ArrayList<>();
                    for (int round = 0; round < rounds; round++) {
                        if (round % 2 == 0) {
                            theirs.add(iscsiPerf(perf, url, w, depth, seconds));
                            mine.add(ours(device, w, depth, seconds));
                        } else {
                            mine.add(ours(device, w, depth, seconds));
                            theirs.add(iscsiPerf(perf, url, w, depth, seconds));
                        }
                    }
                    Result t = median(theirs);
                    Result m = median(mine);
                    rows.add(String.format("| %-18s | %9.0f | %8.0f | %9.0f | %8.0f | %5.2f | %s / %s |", w.name,
                            t.iops, t.mbPerSecond, m.iops, m.mbPerSecond, m.iops / t.iops, iopsList(theirs), iopsList(mine)));
                    figures.add(new io.tapdisk4j.testsupport.PeerFigure("iSCSI backend", w.name + ", " + depth
                            + " in flight", "libiscsi iscsi-perf", m.iops, t.iops, "IOPS", true));
                }
            }
        } finally {
            Files.deleteIfExists(disk);
        }
        System.out.printf("iSCSI read benchmark: tgtd on 127.0.0.1, %d MiB LUN (file in page cache), %d in flight, "
                + "%d alternating runs of %d s each (median), %d cores, load average before: %s%n",
                lunMiB, depth, rounds, seconds, Runtime.getRuntime().availableProcessors(), loadBefore);
        System.out.println("| workload           | iscsi-perf IOPS | MB/s | tapdisk4j IOPS | MB/s | ratio | all runs (IOPS) iscsi-perf / tapdisk4j |");
        System.out.println("|--------------------|-----------|----------|-----------|----------|-------|------|");
        rows.forEach(System.out::println);
        System.out.printf("memcpy ceiling in this run: %.1f GB/s (one core, 1 MiB blocks)%n", memcpy);
        return figures;
    }

    static Result median(List<Result> results) {
        List<Result> sorted = new ArrayList<>(results);
        sorted.sort(java.util.Comparator.comparingDouble(Result::iops));
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

    /** Runs iscsi-perf and parses its final "iops average N (M MB/s)" line. */
    static Result iscsiPerf(String perf, String url, Workload w, int depth, int seconds) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(perf, "-t", Integer.toString(seconds), "-m", Integer.toString(depth),
                "-b", Integer.toString(w.blockSize / 512)));
        if (w.random) {
            cmd.add("-r");
        }
        cmd.add(url);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(seconds + 30L, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("iscsi-perf failed: " + out);
        }
        Matcher m = AVERAGE.matcher(out);
        String iops = null;
        while (m.find()) {
            iops = m.group(1);
        }
        if (iops == null) {
            throw new IOException("no average in iscsi-perf output: " + out);
        }
        double n = Double.parseDouble(iops);
        return new Result(n, n * w.blockSize / 1e6);
    }

    /** {@code depth} reads always outstanding, each completion issuing the next, for {@code seconds}. */
    static Result ours(IscsiBlockDevice d, Workload w, int depth, int seconds) throws Exception {
        long blocks = d.size() / w.blockSize;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        AtomicLong done = new AtomicLong();
        AtomicLong next = new AtomicLong();
        CompletableFuture<Void> finished = new CompletableFuture<>();
        AtomicLong running = new AtomicLong(depth);
        long start = System.nanoTime();
        for (int i = 0; i < depth; i++) {
            issue(d, w, blocks, deadline, done, next, running, finished);
        }
        finished.get(seconds + 60L, TimeUnit.SECONDS);
        double elapsed = (System.nanoTime() - start) / 1e9;
        double iops = done.get() / elapsed;
        return new Result(iops, iops * w.blockSize / 1e6);
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
