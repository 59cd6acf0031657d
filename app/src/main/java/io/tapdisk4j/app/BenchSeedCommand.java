package io.tapdisk4j.app;

import io.tapdisk4j.bench.SeedBenchmark;
import io.tapdisk4j.ring.backend.DataPath;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "seed", description = "The tapdisk3 experiment: 1..N VMs with one device per SR, sequential read "
        + "and write, 512 B to 4 MiB, every data path; writes a CSV and PNG charts.")
final class BenchSeedCommand implements Callable<Integer> {

    @Option(names = "--vms", description = "Largest VM count (1..N; default 10).")
    Integer vms;

    @Option(names = "--srs", defaultValue = "9", description = "Storage repositories: devices per VM.")
    int srs;

    @Option(names = "--seconds", description = "Duration of each point (default 10; 1 with --quick).")
    Double seconds;

    @Option(names = "--quick", description = "A short run: VM counts 1, 2, 4; four block sizes; 1 s points.")
    boolean quick;

    @Option(names = "--paths", split = ",", description = "Data paths (default all four).")
    List<String> paths;

    @Option(names = "--device", defaultValue = "null:", description = "Device URI: null:, memory:?size=…, file:///…")
    String device;

    @Option(names = "--out", defaultValue = "bench-results/seed", description = "Output directory.")
    Path out;

    @Override
    public Integer call() throws Exception {
        BenchCommand.quietDeviceLogs();
        SeedBenchmark.Options base = quick ? SeedBenchmark.Options.quick(out) : SeedBenchmark.Options.defaults(out);
        List<Integer> vmCounts = base.vmCounts();
        if (vms != null) {
            List<Integer> counts = new ArrayList<>();
            if (quick) {
                for (int v : base.vmCounts()) {
                    if (v < vms) {
                        counts.add(v);
                    }
                }
                counts.add(vms);
            } else {
                for (int v = 1; v <= vms; v++) {
                    counts.add(v);
                }
            }
            vmCounts = counts;
        }
        List<DataPath> dataPaths = paths == null ? base.paths() : paths.stream().map(DataPath::parse).toList();
        SeedBenchmark.Options o = new SeedBenchmark.Options(vmCounts, srs, base.blockSizes(), dataPaths,
                base.directions(), seconds != null ? seconds : base.secondsPerPoint(), device, out);
        SeedBenchmark.run(o, System.out);
        return 0;
    }
}
