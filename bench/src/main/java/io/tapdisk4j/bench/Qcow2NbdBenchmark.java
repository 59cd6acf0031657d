package io.tapdisk4j.bench;

import io.tapdisk4j.testsupport.PeerFigure;
import io.tapdisk4j.testsupport.PeerProcess;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.testsupport.Ports;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * qcow2 writes through tapdisk4j against the same writes through qemu-nbd, whole processes side by side in one
 * run: a fresh qcow2 image (made by qemu-img) exported by {@code tapdisk4j export} (its own JVM, the
 * launcher's options) or by {@code qemu-nbd}, written by the same fio command (ioengine=nbd, ending with a
 * flush): first writes into the image's first GiB, then rewrites of the now allocated clusters, sequential
 * (1 MiB) and random (64 KiB, every cluster once). The figure is the wall time of the fio process, as MB/s,
 * the median of {@code qcow2.bench.rounds} rounds (default 5). The servers run side by side, each on its own
 * image, and every phase is measured for one right after the other, the order reversing every round. A third
 * server, tapdisk4j exporting a new sparse raw file, takes the same writes: what first writes cost the machine
 * itself, so that "first write at least half of rewrite" can be judged for qcow2's own allocation.
 * <p>Both servers are warmed up first by the same writes beyond the measured GiB, unmeasured: the daemon
 * that serves VDIs runs for weeks, so a new VDI's first writes meet a JVM whose JIT has compiled the write
 * path long ago. Without it, a fresh JVM's compiler threads took 47% of the export's CPU during the first
 * 1 GiB of random first writes (perf, 2026-12-07), on a machine with two cores. A warm-up of one pattern
 * was not enough: the measured pass that followed a warm-up of random first writes and sequential rewrites
 * still saw 364 compilations and 154 deoptimisations (-XX:+PrintCompilation), so the warm-up runs every
 * path the measurement takes (first writes and rewrites, random and sequential), the first writes twice.
 */
public final class Qcow2NbdBenchmark {

    static final long SIZE = 1L << 30;
    static final int ROUNDS = Integer.getInteger("qcow2.bench.rounds", 5);

    private Qcow2NbdBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        run(Files.createTempDirectory("qcow2-bench-")).forEach(f -> System.out.println(f.row()));
    }

    public static List<PeerFigure> run(Path dir) throws Exception {
        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        String qemuNbd = Peers.require("qemu-nbd", "qemu-utils");
        String fio = Peers.require("fio", "fio");
        Files.createDirectories(dir);
        List<PeerFigure> out = new ArrayList<>();
        // [pattern * 6 + phase * 3 + server][round] -> MB/s; servers: 0 tapdisk4j, 1 qemu-nbd, 2 tapdisk4j on raw.
        double[][] mbs = new double[12][ROUNDS];
        String[] patterns = {"sequential 1 MiB", "random 64 KiB"};
        String[] names = {"tapdisk4j", "qemu-nbd", "tapdisk4j (raw)"};
        for (int round = 0; round < ROUNDS; round++) {
            for (int p = 0; p < 2; p++) {
                // All servers run at once, each on its own fresh image, and each phase is measured for all of
                // them back to back: on this kind of machine the cost of first-touching memory and the disk's
                // writeback drift over minutes, so figures taken a minute apart compared the machine, not the
                // servers. The order reverses with every round.
                int[] order = round % 2 == 0 ? new int[]{0, 1, 2} : new int[]{2, 1, 0};
                Server[] servers = new Server[3];
                try {
                    for (int server : order) {
                        servers[server] = start(server, dir, qemuImg, qemuNbd);
                    }
                    for (int server : order) {
                        warmUp(fio, servers[server].uri());
                    }
                    for (int phase = 0; phase < 2; phase++) {
                        for (int server : order) {
                            double mbps = fio(fio, servers[server].uri(), p == 1);
                            mbs[p * 6 + phase * 3 + server][round] = mbps;
                            System.out.printf(Locale.ROOT, "round %d: %s %s %s: %.0f MB/s%n", round, names[server],
                                    patterns[p], phase == 0 ? "first write" : "rewrite", mbps);
                        }
                    }
                } finally {
                    for (Server s : servers) {
                        if (s != null) {
                            s.close();
                        }
                    }
                }
            }
        }
        for (int p = 0; p < 2; p++) {
            for (int phase = 0; phase < 2; phase++) {
                out.add(PeerFigure.ofMedians("qcow2 over NBD", (phase == 0 ? "first write, " : "rewrite, ") + patterns[p]
                        + ", 1 GiB", "qemu-nbd", mbs[p * 6 + phase * 3], mbs[p * 6 + phase * 3 + 1],
                        "MB/s", true));
            }
            out.add(PeerFigure.ofMedians("qcow2 over NBD", "first write vs rewrite, " + patterns[p], "itself (target >= 0.5)",
                    mbs[p * 6], mbs[p * 6 + 3], "MB/s", true));
            // The same two passes into a new raw file show what new space costs the machine itself (first-touched
            // page-cache memory, the file system's allocation): first writes against first writes on raw take
            // that out and leave what qcow2's allocation (clusters, L2 tables, refcounts) costs.
            out.add(PeerFigure.ofMedians("qcow2 over NBD", "raw file: first write vs rewrite, " + patterns[p],
                    "itself (the machine's own cost of new space)", mbs[p * 6 + 2], mbs[p * 6 + 5],
                    "MB/s", true));
            out.add(PeerFigure.ofMedians("qcow2 over NBD", "first write, " + patterns[p] + ", qcow2 vs raw",
                    "tapdisk4j on a raw file (target >= 0.5)", mbs[p * 6], mbs[p * 6 + 2], "MB/s", true));
        }
        return out;
    }

    /** A running server and its NBD URI; closing stops it by pid. */
    record Server(String uri, PeerProcess process) implements AutoCloseable {
        @Override
        public void close() {
            process.close();
        }
    }

    /** Server {@code which} (0 tapdisk4j, 1 qemu-nbd: a new qcow2 image each; 2 tapdisk4j: a new sparse raw file). */
    static Server start(int which, Path dir, String qemuImg, String qemuNbd) throws Exception {
        Path image = dir.resolve("bench-" + which + (which == 2 ? ".raw" : ".qcow2"));
        Files.deleteIfExists(image);
        if (which == 2) {
            try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(4 * SIZE);
            }
            return tapdisk4j(dir, image, "tapdisk4j-export-raw");
        }
        run(List.of(qemuImg, "create", "-q", "-f", "qcow2", image.toString(), Long.toString(4 * SIZE)));
        return which == 0 ? tapdisk4j(dir, image, "tapdisk4j-export") : qemuNbd(dir, qemuNbd, image);
    }

    static Server tapdisk4j(Path dir, Path image, String name) throws Exception {
        int port = Ports.free();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        PeerProcess p = PeerProcess.start(name, List.of(java, "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-XX:+UseG1GC", "-Xms32m", "-Xmx512m",
                "-XX:MaxDirectMemorySize=4g", "-cp", System.getProperty("java.class.path"), "io.tapdisk4j.app.Main",
                "export", "file://" + image, "--port", Integer.toString(port), "--bind", "127.0.0.1", "--name", "bench"),
                dir, null);
        awaitPort(port, p);
        return new Server("nbd://127.0.0.1:" + port + "/bench", p);
    }

    static Server qemuNbd(Path dir, String qemuNbd, Path image) throws Exception {
        int port = Ports.free();
        Path pid = dir.resolve("qemu-nbd.pid");
        Files.deleteIfExists(pid);
        PeerProcess p = PeerProcess.start("qemu-nbd", List.of(qemuNbd, "-f", "qcow2", "--cache=writeback",
                "--aio=threads", "--persistent", "-b", "127.0.0.1", "-p", Integer.toString(port), "-x", "bench", "--fork",
                "--pid-file", pid.toString(), image.toString()), dir, pid);
        p.awaitLauncherExit(java.time.Duration.ofSeconds(30));
        Ports.awaitListening(port, java.time.Duration.ofSeconds(60), null); // the launcher exited: the daemon serves
        return new Server("nbd://127.0.0.1:" + port + "/bench", p);
    }

    static void awaitPort(int port, PeerProcess p) {
        Ports.awaitListening(port, java.time.Duration.ofSeconds(60), p.process());
    }

    /**
     * Unmeasured writes beyond the image's first GiB, each ending with a flush: random and sequential first
     * writes into a half GiB each, rewrites of both, then first writes into two more half GiBs.
     */
    static void warmUp(String fio, String uri) throws Exception {
        long half = SIZE / 2;
        for (int pass = 0; pass < 2; pass++) {
            long at = 2 * SIZE + pass * SIZE;
            write(fio, uri, true, at, half, half);
            write(fio, uri, false, at + half, half, half);
            if (pass == 0) {
                write(fio, uri, true, at, half, half);
                write(fio, uri, false, at + half, half, half);
            }
        }
    }

    /** The fio process's wall time over the image's first GiB (ending with a flush), as MB/s. */
    static double fio(String fio, String uri, boolean random) throws Exception {
        long t0 = System.nanoTime();
        write(fio, uri, random, 0, SIZE, SIZE);
        double s = (System.nanoTime() - t0) / 1e9;
        return SIZE / 1e6 / s;
    }

    /** One fio process writing {@code bytes} over {@code [offset, offset+size)}: random 64 KiB or sequential 1 MiB. */
    private static void write(String fio, String uri, boolean random, long offset, long size, long bytes) throws Exception {
        run(List.of(fio, "--name=qcow2", "--ioengine=nbd", "--uri=" + uri, "--rw=" + (random ? "randwrite" : "write"),
                "--bs=" + (random ? "64k" : "1m"), "--iodepth=16", "--offset=" + offset, "--size=" + size,
                "--io_size=" + bytes, "--end_fsync=1", "--randrepeat=1", "--output=/dev/null"));
    }

    static void run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(600, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(cmd + " failed: " + new String(out));
        }
    }
}
