package io.tapdisk4j.ring.bench;

import io.tapdisk4j.ring.backend.DataPath;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The ring server's figures in one run: 4 KiB, 64 KiB and 1 MiB, read and write, every data path, 1 and 4
 * guests, each against the memcpy bandwidth measured in the same run, then {@code copy} over
 * {@code map-copy} per point. Every point runs in a JVM of its own ({@link RingBenchmarkPoint}).
 */
public final class RingBenchmarkMatrix {

    public static final List<Integer> GUESTS = List.of(1, 4);
    public static final List<Integer> BLOCK_SIZES = List.of(4096, 64 << 10, 1 << 20);

    private RingBenchmarkMatrix() {
    }

    /** Every point with {@code queues} rings per guest (a guest with that many vCPUs, as blkfront negotiates). */
    public static List<RingBenchmark.Result> run(String device, int queues, double seconds, List<DataPath> paths,
                                                 PrintStream out) throws Exception {
        List<RingBenchmark.Result> results = new ArrayList<>();
        for (int guests : GUESTS) {
            for (int bs : BLOCK_SIZES) {
                for (boolean write : new boolean[]{false, true}) {
                    for (DataPath p : paths) {
                        RingBenchmark.Result r = RingBenchmarkPoint.runIsolated(
                                RingBenchmark.Options.of(device, guests, queues, bs, p, write, seconds));
                        out.println(r.summary());
                        results.add(r);
                    }
                }
            }
        }
        out.println();
        out.println(table(results));
        return results;
    }

    /** A Markdown table: GB/s and share of memcpy per path, and copy over map-copy. */
    public static String table(List<RingBenchmark.Result> results) {
        List<DataPath> paths = results.stream().map(r -> r.options().mode()).distinct().toList();
        StringBuilder sb = new StringBuilder("| guests | queues | block | rw | memcpy GB/s |");
        StringBuilder rule = new StringBuilder("|---|---|---|---|---|");
        for (DataPath p : paths) {
            sb.append(' ').append(p.cliName()).append(" GB/s (% memcpy) |");
            rule.append("---|");
        }
        boolean ratio = paths.contains(DataPath.COPY) && paths.contains(DataPath.MAP_COPY);
        if (ratio) {
            sb.append(" copy ÷ map-copy |");
            rule.append("---|");
        }
        sb.append('\n').append(rule).append('\n');
        for (int guests : GUESTS) {
            for (int bs : BLOCK_SIZES) {
                for (boolean write : new boolean[]{false, true}) {
                    List<RingBenchmark.Result> row = results.stream().filter(r -> r.options().guests() == guests
                            && r.options().blockSize() == bs && r.options().write() == write).toList();
                    if (row.isEmpty()) {
                        continue;
                    }
                    double memcpy = row.stream().mapToDouble(RingBenchmark.Result::memcpyBytesPerSecond).average().orElse(0);
                    sb.append(String.format(Locale.ROOT, "| %d | %d | %s | %s | %.1f |", guests,
                            row.getFirst().options().queues(), RingBenchmark.size(bs), write ? "write" : "read",
                            memcpy / 1e9));
                    for (DataPath p : paths) {
                        RingBenchmark.Result r = find(row, p);
                        sb.append(r == null ? " – |" : String.format(Locale.ROOT, " %.2f (%.0f %%) |",
                                r.bytesPerSecond() / 1e9, 100 * r.ratio()));
                    }
                    if (ratio) {
                        RingBenchmark.Result c = find(row, DataPath.COPY);
                        RingBenchmark.Result m = find(row, DataPath.MAP_COPY);
                        sb.append(String.format(Locale.ROOT, " %.1f× |", c.bytesPerSecond() / m.bytesPerSecond()));
                    }
                    sb.append('\n');
                }
            }
        }
        return sb.toString();
    }

    private static RingBenchmark.Result find(List<RingBenchmark.Result> row, DataPath p) {
        return row.stream().filter(r -> r.options().mode() == p).findFirst().orElse(null);
    }
}
