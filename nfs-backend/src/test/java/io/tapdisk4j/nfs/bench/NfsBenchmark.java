package io.tapdisk4j.nfs.bench;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.nfs.device.NfsDeviceProvider;
import io.tapdisk4j.testsupport.peers.Ganesha;
import io.tapdisk4j.testsupport.Peers;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Closing-note figures, side by side in one run against one nfs-ganesha on loopback: sequential write and
 * read of {@code -Dsize} (default 1 GiB) through {@link io.tapdisk4j.nfs.device.NfsBlockDevice} and through
 * libnfs's {@code nfs-cp}, then 4 KiB random read and write IOPS at queue depth 32 through the device, and a
 * memcpy ceiling measured in the same run. {@code -Dparams=maxunstable=256M} adds URL parameters. Run (from /work/main, after {@code mvn -pl nfs-backend install}):
 * <pre>
 *   java -cp "$(cat nfs-backend/target/bench.cp):nfs-backend/target/classes:nfs-backend/target/test-classes" \
 *        --enable-native-access=ALL-UNNAMED io.tapdisk4j.nfs.bench.NfsBenchmark
 * </pre>
 */
public final class NfsBenchmark {

    private static final int CHUNK = 1 << 20;
    private static final int SEQ_DEPTH = 16;

    public static void main(String[] args) throws Exception {
        run();
        System.exit(0);
    }

    /** Runs the comparison, prints its table, and returns the figures for `bench peers`. */
    public static List<io.tapdisk4j.testsupport.PeerFigure> run() throws Exception {
        long size = Long.getLong("size", 1L << 30);
        int seconds = Integer.getInteger("seconds", 5);
        String nfsCp = Peers.require("nfs-cp", "libnfs-utils");
        double memcpy = memcpyGBps(size);
        int rounds = Integer.getInteger("rounds", 3);
        String extra = System.getProperty("params", "");
        int[] nconnects = {1, 4};
        // Best (shortest) time of each measurement over interleaved rounds: the machine is shared and noisy.
        double libWrite = Double.MAX_VALUE;
        double libRead = Double.MAX_VALUE;
        double[] w = {Double.MAX_VALUE, Double.MAX_VALUE};
        double[] r = {Double.MAX_VALUE, Double.MAX_VALUE};
        double libWriteCpu = Double.MAX_VALUE;
        double libReadCpu = Double.MAX_VALUE;
        double[] wCpu = {Double.MAX_VALUE, Double.MAX_VALUE};
        double[] rCpu = {Double.MAX_VALUE, Double.MAX_VALUE};
        double[] rIops = new double[2];
        double[] wIops = new double[2];
        double loadBefore = java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        try (Ganesha g = Ganesha.startStandalone()) {
            Path src = Files.createTempFile("nfs-bench-src", ".raw");
            Path sink = Path.of("/dev/shm", "nfs-bench-" + ProcessHandle.current().pid() + ".raw");
            try {
                byte[] block = new byte[CHUNK];
                new Random(1).nextBytes(block);
                try (var out = Files.newOutputStream(src)) {
                    for (long done = 0; done < size; done += CHUNK) {
                        out.write(block);
                    }
                }
                String libnfsUrl = "nfs://127.0.0.1" + g.export() + "/libnfs.raw?version=3&nfsport=" + g.nfsPort()
                        + "&mountport=" + g.mountPort();
                for (int round = 0; round < rounds; round++) {
                    double[] cpu = new double[1];
                    libWrite = Math.min(libWrite, timed(() -> cpu[0] = runCpu(nfsCp, src.toString(), libnfsUrl)));
                    libWriteCpu = Math.min(libWriteCpu, cpu[0]);
                    // nfs-cp cannot write to /dev/null; a tmpfs file costs it about one memcpy per byte.
                    libRead = Math.min(libRead, timed(() -> cpu[0] = runCpu(nfsCp, libnfsUrl, sink.toString())));
                    libReadCpu = Math.min(libReadCpu, cpu[0]);
                    Files.deleteIfExists(sink);
                    new NfsDeviceProvider().remove(DeviceUri.parse(g.url("libnfs.raw", ""))); // nfs-cp creates GUARDED
                    for (int i = 0; i < nconnects.length; i++) {
                        NfsDeviceProvider p = new NfsDeviceProvider();
                        DeviceUri uri = DeviceUri.parse(g.url("t4j-" + nconnects[i] + ".raw", "nconnect=" + nconnects[i]
                                + (extra.isEmpty() ? "" : "&" + extra)));
                        try (BlockDevice dev = p.create(uri, size)) {
                            ByteBuf data = Buffers.direct(CHUNK).writeBytes(block);
                            try {
                                long c0 = cpuNanos();
                                w[i] = Math.min(w[i], timed(() -> sequentialWrite(dev, data, size)));
                                wCpu[i] = Math.min(wCpu[i], (cpuNanos() - c0) / 1e9);
                            } finally {
                                data.release();
                            }
                            long c0 = cpuNanos();
                            r[i] = Math.min(r[i], timed(() -> sequentialRead(dev, size)));
                            rCpu[i] = Math.min(rCpu[i], (cpuNanos() - c0) / 1e9);
                            rIops[i] = Math.max(rIops[i], randomIops(dev, false, seconds));
                            wIops[i] = Math.max(wIops[i], randomIops(dev, true, seconds));
                        }
                        p.remove(uri);
                    }
                }
            } finally {
                Files.deleteIfExists(src);
                Files.deleteIfExists(sink);
            }
        }
        double loadAfter = java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[]{"libnfs nfs-cp", mbps(size, libWrite), mbps(size, libRead), "1.00", "1.00",
                cpu(libWriteCpu, size), cpu(libReadCpu, size), "-", "-"});
        for (int i = 0; i < nconnects.length; i++) {
            rows.add(new String[]{"tapdisk4j nconnect=" + nconnects[i], mbps(size, w[i]), mbps(size, r[i]),
                    ratio(libWrite, w[i]), ratio(libRead, r[i]), cpu(wCpu[i], size), cpu(rCpu[i], size), String.format(Locale.ROOT, "%.0f", rIops[i]),
                    String.format(Locale.ROOT, "%.0f", wIops[i])});
        }
        System.out.printf(Locale.ROOT, "%nbest of %d interleaved rounds; load average %.1f before, %.1f after (%d cores)",
                rounds, loadBefore, loadAfter, Runtime.getRuntime().availableProcessors());
        System.out.printf(Locale.ROOT, "%nNFSv3 to nfs-ganesha on loopback, %d MiB sequential (1 MiB requests, %d in flight"
                + " for tapdisk4j), 4 KiB random for %d s at QD 32; memcpy ceiling %.1f GB/s%n", size >> 20, SEQ_DEPTH,
                seconds, memcpy);
        System.out.printf(Locale.ROOT, "%-22s %10s %10s %8s %8s %12s %12s %11s %11s%n", "client", "write MB/s",
                "read MB/s", "write x", "read x", "wr cpu s/GiB", "rd cpu s/GiB", "4k rd IOPS", "4k wr IOPS");
        for (String[] row : rows) {
            System.out.printf(Locale.ROOT, "%-22s %10s %10s %8s %8s %12s %12s %11s %11s%n", (Object[]) row);
        }
        System.out.println("(x: libnfs time / tapdisk4j time; cpu: client CPU seconds per GiB, user+system, whole process"
                + " for tapdisk4j; the tapdisk4j write includes COMMITs (background past maxunstable and the final"
                + " flush), nfs-cp sends none)");
        List<io.tapdisk4j.testsupport.PeerFigure> figures = new ArrayList<>();
        for (int i = 0; i < nconnects.length; i++) {
            String who = " (nconnect=" + nconnects[i] + ")";
            figures.add(new io.tapdisk4j.testsupport.PeerFigure("NFS backend", (size >> 20) + " MiB sequential write" + who,
                    "libnfs nfs-cp", w[i], libWrite, "s", false));
            figures.add(new io.tapdisk4j.testsupport.PeerFigure("NFS backend", (size >> 20) + " MiB sequential read" + who,
                    "libnfs nfs-cp", r[i], libRead, "s", false));
        }
        return figures;
    }

    interface Body {
        void run() throws Exception;
    }

    private static double timed(Body b) throws Exception {
        long t0 = System.nanoTime();
        b.run();
        return (System.nanoTime() - t0) / 1e9;
    }

    private static String mbps(long bytes, double s) {
        return String.format(Locale.ROOT, "%.0f", bytes / 1e6 / s);
    }

    /** How many times faster than libnfs (time of libnfs / time of this client). */
    private static String ratio(double lib, double ours) {
        return String.format(Locale.ROOT, "%.2f", lib / ours);
    }

    private static String cpu(double seconds, long size) {
        return String.format(Locale.ROOT, "%.2f", seconds / (size / (double) (1L << 30)));
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** Runs a command under /usr/bin/time; returns its user+system CPU seconds. */
    private static double runCpu(String... cmd) throws Exception {
        Path times = Files.createTempFile("nfs-bench-time", ".txt");
        try {
            String[] full = new String[cmd.length + 5];
            full[0] = "/usr/bin/time";
            full[1] = "-f";
            full[2] = "%U %S";
            full[3] = "-o";
            full[4] = times.toString();
            System.arraycopy(cmd, 0, full, 5, cmd.length);
            run(full);
            String[] t = Files.readString(times).trim().split("\\s+");
            return Double.parseDouble(t[t.length - 2]) + Double.parseDouble(t[t.length - 1]);
        } finally {
            Files.deleteIfExists(times);
        }
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed: " + out);
        }
    }

    /** Writes with SEQ_DEPTH requests in flight, then flushes (COMMIT), so the data is on the server's disk. */
    private static void sequentialWrite(BlockDevice dev, ByteBuf data, long size) throws Exception {
        Semaphore window = new Semaphore(SEQ_DEPTH);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (long off = 0; off < size && failure.get() == null; off += CHUNK) {
            window.acquire();
            dev.write(off, data.retainedDuplicate(), false).whenComplete((v, t) -> {
                if (t != null) {
                    failure.compareAndSet(null, t);
                }
                window.release();
            });
        }
        window.acquire(SEQ_DEPTH);
        if (failure.get() != null) {
            throw new IllegalStateException(failure.get());
        }
        dev.flush().get();
    }

    private static void sequentialRead(BlockDevice dev, long size) throws Exception {
        Semaphore window = new Semaphore(SEQ_DEPTH);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (long off = 0; off < size && failure.get() == null; off += CHUNK) {
            window.acquire();
            dev.read(off, CHUNK).whenComplete((b, t) -> {
                if (t != null) {
                    failure.compareAndSet(null, t);
                } else {
                    b.release();
                }
                window.release();
            });
        }
        window.acquire(SEQ_DEPTH);
        if (failure.get() != null) {
            throw new IllegalStateException(failure.get());
        }
    }

    private static double randomIops(BlockDevice dev, boolean write, int seconds) throws Exception {
        int depth = 32;
        long blocks = dev.size() / 4096;
        ByteBuf data = Buffers.direct(4096).writeZero(4096);
        AtomicLong done = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        CompletableFuture<Void> all = new CompletableFuture<>();
        AtomicLong running = new AtomicLong(depth);
        for (int i = 0; i < depth; i++) {
            issue(dev, write, blocks, data, done, failure, end, running, all);
        }
        long t0 = System.nanoTime();
        all.get();
        double elapsed = (System.nanoTime() - t0) / 1e9;
        if (write) {
            dev.flush().get();
        }
        data.release();
        if (failure.get() != null) {
            throw new IllegalStateException(failure.get());
        }
        return done.get() / elapsed;
    }

    private static void issue(BlockDevice dev, boolean write, long blocks, ByteBuf data, AtomicLong done,
                              AtomicReference<Throwable> failure, long end, AtomicLong running,
                              CompletableFuture<Void> all) {
        if (System.nanoTime() > end || failure.get() != null) {
            if (running.decrementAndGet() == 0) {
                all.complete(null);
            }
            return;
        }
        long off = ThreadLocalRandom.current().nextLong(blocks) * 4096;
        CompletableFuture<?> f = write ? dev.write(off, data.retainedDuplicate(), false)
                : dev.read(off, 4096).thenAccept(ByteBuf::release);
        f.whenComplete((v, t) -> {
            if (t != null) {
                failure.compareAndSet(null, t);
            } else {
                done.incrementAndGet();
            }
            issue(dev, write, blocks, data, done, failure, end, running, all);
        });
    }

    /** memcpy between two 256 MiB direct buffers in 1 MiB blocks (too big for any cache), {@code size} bytes in all. */
    private static double memcpyGBps(long size) {
        int span = 256 << 20;
        ByteBuf src = Buffers.allocator().directBuffer(span, span).writeZero(span);
        ByteBuf dst = Buffers.allocator().directBuffer(span, span);
        long t0 = System.nanoTime();
        for (long done = 0; done < size; done += CHUNK) {
            int at = (int) (done % span);
            dst.setBytes(at, src, at, CHUNK);
        }
        double s = (System.nanoTime() - t0) / 1e9;
        src.release();
        dst.release();
        return size / 1e9 / s;
    }
}
