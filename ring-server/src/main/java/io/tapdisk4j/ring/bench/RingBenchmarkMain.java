package io.tapdisk4j.ring.bench;

import io.tapdisk4j.ring.backend.DataPath;

import java.util.ArrayList;
import java.util.List;

/**
 * The benchmark matrix of issue 2 (4 KiB, 64 KiB, 1 MiB; read and write; every data path; 1 and 4 guests),
 * printed as one line per run. Arguments: seconds per run (default 3), then optionally a data path list.
 */
public final class RingBenchmarkMain {

    private RingBenchmarkMain() {
    }

    public static void main(String[] args) throws Exception {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 3;
        List<DataPath> paths = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            paths.add(DataPath.parse(args[i]));
        }
        if (paths.isEmpty()) {
            paths = List.of(DataPath.values());
        }
        for (int guests : new int[]{1, 4}) {
            for (int bs : new int[]{4096, 64 << 10, 1 << 20}) {
                for (boolean write : new boolean[]{false, true}) {
                    for (DataPath p : paths) {
                        RingBenchmark.Result r = RingBenchmark.run(
                                RingBenchmark.Options.of("null:", guests, 1, bs, p, write, seconds), null);
                        System.out.println(r.summary());
                    }
                }
            }
        }
        System.exit(0);
    }
}
