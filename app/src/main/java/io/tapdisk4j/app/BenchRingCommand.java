package io.tapdisk4j.app;

import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.bench.RingBenchmark;
import io.tapdisk4j.ring.bench.RingBenchmarkMatrix;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "ring", description = "Emulated guests against the ring server over the simulated hypervisor; "
        + "prints GB/s, IOPS and the memcpy bandwidth of the same run.")
final class BenchRingCommand implements Callable<Integer> {

    @Option(names = "--device", defaultValue = "null:", description = "Device URI each guest opens (default ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--guests", defaultValue = "1", description = "Emulated guests, one device each.")
    int guests;

    @Option(names = "--queues", defaultValue = "1", description = "Rings per device.")
    int queues;

    @Option(names = "--block-size", defaultValue = "64K", converter = SizeConverter.class,
            description = "Bytes per request (512 to 1M).")
    int blockSize;

    @Option(names = "--mode", defaultValue = "copy", description = "Data path: copy, map-copy, persistent, unsafe-map.")
    String mode;

    @Option(names = "--rw", defaultValue = "read", description = "read or write.")
    String rw;

    @Option(names = "--seconds", defaultValue = "5", description = "Measured duration.")
    double seconds;

    @Option(names = "--depth", defaultValue = "0", description = "Requests in flight per queue (0: about 4 MiB in flight).")
    int depth;

    @Option(names = "--ring-order", defaultValue = "2", description = "ring-page-order (0-4).")
    int ringOrder;

    @Option(names = "--guest-memory", defaultValue = "0", converter = LongSizeConverter.class,
            description = "Guest memory each guest's requests cycle through, e.g. 256M (0: only the buffers in flight, "
                    + "which stay in the CPU caches). The memcpy ceiling is measured over the same working set.")
    long guestMemory;

    @Option(names = "--matrix", description = "Every figure at once: 4K, 64K and 1M, read and write, every data path, "
            + "1 and 4 guests of --queues rings each (--seconds per point), then a table with the share of memcpy "
            + "and copy over map-copy.")
    boolean matrix;

    @Override
    public Integer call() throws Exception {
        BenchCommand.quietDeviceLogs();
        if (matrix) {
            List<RingBenchmark.Result> all = RingBenchmarkMatrix.run(device, queues, seconds, List.of(DataPath.values()),
                    System.out);
            return all.stream().allMatch(r -> r.errors() == 0) ? 0 : 1;
        }
        if (!rw.equals("read") && !rw.equals("write")) {
            throw new IllegalArgumentException("--rw must be read or write, not '" + rw + "'");
        }
        RingBenchmark.Options o = new RingBenchmark.Options(device, guests, queues, blockSize, DataPath.parse(mode),
                rw.equals("write"), seconds, depth, ringOrder, guestMemory);
        RingBenchmark.Result r = RingBenchmark.run(o, System.out);
        return r.errors() == 0 ? 0 : 1;
    }
}
