package io.tapdisk4j.app;

import io.tapdisk4j.bench.PeersBenchmark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "peers", description = "Start each real peer (nbdkit, qemu-nbd, nbd-server, nfs-ganesha + libnfs, "
        + "tgtd + iscsi-perf), run tapdisk4j and the peer on the same work in one run, print a table of ratios.")
final class BenchPeersCommand implements Callable<Integer> {

    @Option(names = "--only", split = ",", description = "Comparisons to run: nbd, nfs, iscsi, vhd, qcow2 (default all).")
    List<String> only = List.of();

    @Option(names = "--dir", description = "Work directory for images, kept afterwards (default: a temporary directory, removed at the end).")
    Path dir;

    @Override
    public Integer call() throws Exception {
        BenchCommand.quietDeviceLogs();
        Path d = dir != null ? dir : Files.createTempDirectory("tapdisk4j-peers-");
        try {
            PeersBenchmark.run(d, only, System.out);
        } finally {
            if (dir == null) {
                DemoCommand.deleteTree(d); // its images take gigabytes: a run must not leave them in /tmp
            }
        }
        return 0;
    }
}
