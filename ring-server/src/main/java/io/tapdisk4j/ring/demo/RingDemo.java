package io.tapdisk4j.ring.demo;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.ring.backend.BackendSpec;
import io.tapdisk4j.ring.backend.BackendStats;
import io.tapdisk4j.ring.backend.BlkifBackend;
import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.blkif.Abi;
import io.tapdisk4j.ring.frontend.BlkfrontEmulator;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.hv.sim.SimHypervisor;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The ring server end to end without Xen: a simulated hypervisor in a temporary directory, one emulated
 * guest (two queues, multi-page rings, indirect descriptors) attached to a device, a short workload of
 * writes, verified reads, a flush and a discard, with progress and the backend's counters printed.
 */
public final class RingDemo {

    private RingDemo() {
    }

    public static void main(String[] args) throws Exception {
        String uri = args.length > 0 ? args[0] : "memory:?size=256M";
        DataPath path = args.length > 1 ? DataPath.parse(args[1]) : DataPath.COPY;
        System.exit(run(System.out, uri, path, 2.0) ? 0 : 1);
    }

    /** Runs the demo for about {@code seconds}; true when every block read back as written. */
    public static boolean run(PrintStream out, String deviceUri, DataPath path, double seconds) throws Exception {
        Path dir = Files.createTempDirectory("tapdisk4j-sim-");
        out.println("simulated hypervisor in " + dir + " (see sim-xen-abi.md)");
        try (SimHypervisor hv = new SimHypervisor(dir);
             SimGuest guest = SimGuest.create(dir, 1, 8192, 16384);
             BlkfrontEmulator front = BlkfrontEmulator.create(guest,
                     new FrontendOptions(2, 2, Abi.X86_64, path == DataPath.PERSISTENT, 256));
             BlockDevice device = BlockDevices.loadDefault().open(deviceUri)) {
            out.printf(Locale.ROOT, "guest dom1: %d queue(s), %d-entry rings, device %s (%d MiB), data path %s%n",
                    front.queueCount(), front.ringSize(), device.describe(), device.size() >> 20, path.cliName());
            BlkifBackend backend = BlkifBackend.start(BackendSpec.builder(hv, 1, device).name("demo-dom1/51712")
                    .queues(front.queueSpecs()).dataPath(path).frontendPersistent(path == DataPath.PERSISTENT)
                    .allowUnsafe(path == DataPath.UNSAFE_MAP).build());
            try {
                boolean ok = workload(out, front, device.size(), seconds);
                BlkifResponse flush = front.flush(0).get(10, TimeUnit.SECONDS);
                BlkifResponse discard = front.discard(1, 0, 2048, false).get(10, TimeUnit.SECONDS);
                out.println("flush: " + status(flush) + ", discard of 1 MiB: " + status(discard));
                BackendStats s = backend.stats();
                out.printf(Locale.ROOT, "backend: %d reads (%d MiB), %d writes (%d MiB), %d flushes, %d discards,"
                                + " %d errors, mean latency %.1f us%n", s.reads(), s.bytesRead() >> 20, s.writes(),
                        s.bytesWritten() >> 20, s.flushes(), s.discards(), s.errors(),
                        s.requests() == 0 ? 0.0 : s.latencyNanosSum() / 1e3 / s.requests());
                out.println(ok ? "every block read back as written" : "DATA MISMATCH");
                return ok && s.errors() == 0;
            } finally {
                backend.close();
            }
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException ignored) {
                // temporary directory
            }
        }
    }

    /** Rounds of 64 KiB .. 1 MiB writes on both queues, each read back and compared. */
    private static boolean workload(PrintStream out, BlkfrontEmulator front, long size, double seconds)
            throws Exception {
        Random rnd = new Random(1);
        long deadline = System.nanoTime() + (long) (seconds * 1e9);
        long bytes = 0;
        int round = 0;
        boolean ok = true;
        long start = System.nanoTime();
        while (System.nanoTime() < deadline && ok) {
            List<CompletableFuture<BlkifResponse>> writes = new ArrayList<>();
            List<GuestBuffer> bufs = new ArrayList<>();
            List<byte[]> data = new ArrayList<>();
            List<Long> sectors = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                int len = (16 << rnd.nextInt(5)) * 4096;
                // Eight disjoint regions: concurrent writes of one round never overlap.
                long region = size / 8;
                long sector = (i * region + rnd.nextLong(region - len + 1) / 4096 * 4096) / 512;
                byte[] d = new byte[len];
                rnd.nextBytes(d);
                GuestBuffer b = front.allocateBuffer(len / 4096);
                b.put(0, d);
                bufs.add(b);
                data.add(d);
                sectors.add(sector);
                writes.add(front.write(i % front.queueCount(), sector, b, 0, len));
            }
            for (var w : writes) {
                ok &= w.get(10, TimeUnit.SECONDS).ok();
            }
            for (int i = 0; i < bufs.size(); i++) {
                GuestBuffer b = bufs.get(i);
                b.fill((byte) 0);
                ok &= front.read((i + 1) % front.queueCount(), sectors.get(i), b, 0, data.get(i).length)
                        .get(10, TimeUnit.SECONDS).ok();
                ok &= Arrays.equals(data.get(i), b.get(0, data.get(i).length));
                bytes += 2L * data.get(i).length;
                b.close();
            }
            if (++round % 20 == 0) {
                out.printf(Locale.ROOT, "  round %d: %d MiB moved, %.2f GB/s%n", round, bytes >> 20,
                        bytes / ((System.nanoTime() - start) / 1e9) / 1e9);
            }
        }
        out.printf(Locale.ROOT, "%d rounds, %d MiB written and read back%n", round, bytes >> 20);
        return ok;
    }

    private static String status(BlkifResponse r) {
        return r.ok() ? "ok" : "status " + r.status();
    }
}
