package io.tapdisk4j.bench;

import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.bench.RingBenchmark;
import io.tapdisk4j.ring.bench.RingBenchmarkPoint;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code tapdisk4j bench seed}: the experiment that made tapdisk3's case. 1..N emulated VMs, each with one
 * device per storage repository, read or write sequentially; aggregate throughput per block size and VM
 * count, for every data path, with the memcpy bandwidth of the same run as the physical ceiling.
 *
 * <p>Each VM's devices are served as separate emulated frontends (one simulated domain per device): for
 * the ring server a device is a device, whichever domain owns it.
 */
public final class SeedBenchmark {

    /** One measured point. */
    public record Point(DataPath path, boolean write, int vms, int srs, int blockSize, double bytesPerSecond,
                        double iops, long errors, double memcpyBytesPerSecond) {
    }

    public record Options(List<Integer> vmCounts, int srs, List<Integer> blockSizes, List<DataPath> paths,
                          List<Boolean> directions, double secondsPerPoint, String deviceUri, Path outDir) {

        public static Options defaults(Path outDir) {
            List<Integer> vms = new ArrayList<>();
            for (int v = 1; v <= 10; v++) {
                vms.add(v);
            }
            return new Options(vms, 9, powersOfTwo(512, 4 << 20), List.of(DataPath.MAP_COPY, DataPath.COPY,
                    DataPath.PERSISTENT, DataPath.UNSAFE_MAP), List.of(false, true), 10, "null:", outDir);
        }

        /** A run of a few minutes: fewer VM counts and block sizes, 1 s points. */
        public static Options quick(Path outDir) {
            return new Options(List.of(1, 2, 4), 9, List.of(4096, 65536, 1 << 20, 4 << 20),
                    List.of(DataPath.MAP_COPY, DataPath.COPY, DataPath.PERSISTENT, DataPath.UNSAFE_MAP),
                    List.of(false, true), 1, "null:", outDir);
        }

        public static List<Integer> powersOfTwo(int from, int to) {
            List<Integer> out = new ArrayList<>();
            for (long b = from; b <= to; b *= 2) {
                out.add((int) b);
            }
            return out;
        }
    }

    private SeedBenchmark() {
    }

    public static List<Point> run(Options o, PrintStream out) throws Exception {
        Files.createDirectories(o.outDir());
        List<Point> points = new ArrayList<>();
        Path csv = o.outDir().resolve("seed.csv");
        try (Writer w = Files.newBufferedWriter(csv)) {
            w.write("data_path,rw,vms,srs,block_size,gbytes_per_s,iops,errors,memcpy_gbytes_per_s\n");
            for (DataPath path : o.paths()) {
                for (boolean write : o.directions()) {
                    for (int vms : o.vmCounts()) {
                        for (int bs : o.blockSizes()) {
                            Point p = measure(o, path, write, vms, bs);
                            points.add(p);
                            w.write(String.format(Locale.ROOT, "%s,%s,%d,%d,%d,%.4f,%.0f,%d,%.4f%n", path.cliName(),
                                    write ? "write" : "read", vms, o.srs(), bs, p.bytesPerSecond() / 1e9, p.iops(),
                                    p.errors(), p.memcpyBytesPerSecond() / 1e9));
                            w.flush();
                            out.printf(Locale.ROOT, "seed %-10s %-5s vms=%-2d bs=%-8d %8.3f GB/s  (memcpy %.3f GB/s)%s%n",
                                    path.cliName(), write ? "write" : "read", vms, bs, p.bytesPerSecond() / 1e9,
                                    p.memcpyBytesPerSecond() / 1e9, p.errors() > 0 ? "  ERRORS: " + p.errors() : "");
                        }
                    }
                }
            }
        }
        plot(o, points);
        out.println("seed: wrote " + csv + " and charts in " + o.outDir());
        return points;
    }

    private static Point measure(Options o, DataPath path, boolean write, int vms, int bs) throws Exception {
        // Requests above 1 MiB are split by blkfront into 1 MiB indirect requests; keep as many bytes in flight.
        int request = Math.min(bs, 1 << 20);
        int depth = Math.max(4, bs / request * 4);
        RingBenchmark.Options ro = new RingBenchmark.Options(o.deviceUri(), vms * o.srs(), 1, request, path, write,
                o.secondsPerPoint(), depth, 2);
        // A JVM per point: JIT profiles of the paths measured before must not shape this one.
        RingBenchmark.Result r = RingBenchmarkPoint.runIsolated(ro);
        return new Point(path, write, vms, o.srs(), bs, r.bytesPerSecond(), r.iops() * request / bs, r.errors(),
                r.memcpyBytesPerSecond());
    }

    static void plot(Options o, List<Point> points) throws IOException {
        for (DataPath path : o.paths()) {
            for (boolean write : o.directions()) {
                Map<String, List<double[]>> series = new LinkedHashMap<>();
                TreeMap<Integer, List<Double>> ceiling = new TreeMap<>();
                for (int vms : o.vmCounts()) {
                    List<double[]> line = new ArrayList<>();
                    for (Point p : points) {
                        if (p.path() == path && p.write() == write && p.vms() == vms) {
                            line.add(new double[]{p.blockSize(), p.bytesPerSecond() / 1e9});
                            ceiling.computeIfAbsent(p.blockSize(), k -> new ArrayList<>()).add(p.memcpyBytesPerSecond() / 1e9);
                        }
                    }
                    series.put(vms + (vms == 1 ? " VM" : " VMs"), line);
                }
                double[] ceilingLine = ceiling.values().stream()
                        .mapToDouble(l -> l.stream().mapToDouble(Double::doubleValue).average().orElse(0)).toArray();
                String dir = write ? "write" : "read";
                Charts.throughputByBlockSize(o.outDir().resolve("seed-" + path.cliName() + "-" + dir + ".png"),
                        "tapdisk4j " + path.cliName() + ", sequential " + dir + " (" + o.srs() + " devices per VM)",
                        "aggregate throughput (GB/s)", series, ceilingLine, "memcpy (same run)");
            }
        }
        if (o.paths().contains(DataPath.COPY) && o.paths().contains(DataPath.MAP_COPY)) {
            Map<String, List<double[]>> ratios = new LinkedHashMap<>();
            for (boolean write : o.directions()) {
                for (int vms : List.of(o.vmCounts().getFirst(), o.vmCounts().getLast())) {
                    List<double[]> line = new ArrayList<>();
                    for (int bs : o.blockSizes()) {
                        double copy = find(points, DataPath.COPY, write, vms, bs);
                        double map = find(points, DataPath.MAP_COPY, write, vms, bs);
                        if (copy > 0 && map > 0) {
                            line.add(new double[]{bs, copy / map});
                        }
                    }
                    ratios.putIfAbsent((write ? "write" : "read") + ", " + vms + " VM" + (vms == 1 ? "" : "s"), line);
                }
            }
            Charts.throughputByBlockSize(o.outDir().resolve("seed-copy-over-map-copy.png"),
                    "copy (tapdisk3) over map-copy (tapdisk2)", "throughput ratio", ratios, null, null);
        }
    }

    private static double find(List<Point> points, DataPath path, boolean write, int vms, int bs) {
        for (Point p : points) {
            if (p.path() == path && p.write() == write && p.vms() == vms && p.blockSize() == bs) {
                return p.bytesPerSecond();
            }
        }
        return 0;
    }
}
