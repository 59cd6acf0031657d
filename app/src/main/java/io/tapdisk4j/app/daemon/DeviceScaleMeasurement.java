package io.tapdisk4j.app.daemon;

import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.xenbus.BlkfrontXenbus;
import io.tapdisk4j.ring.xenbus.Toolstack;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenbus.VbdInfo;
import io.tapdisk4j.ring.xenstore.XsClient;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * How much one serve process costs per device: starts the daemon on a temporary simulation, attaches N
 * emulated guests (one disk each, through the real xenstore handshake, one 4 KiB write and read each), lets
 * them idle, and prints resident memory (VmRSS from /proc/self/status) before and after, heap in use, and
 * threads. The emulated guests live in the same process, so the figure is an upper bound for the daemon.
 *
 * <pre>java -cp app/target/tapdisk4j.jar io.tapdisk4j.app.daemon.DeviceScaleMeasurement [N] [URI]</pre>
 * URI defaults to {@code null:?size=1G} (storage costs nothing, so the figure is the ring server's own).
 */
public final class DeviceScaleMeasurement {

    private DeviceScaleMeasurement() {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        String uri = args.length > 1 ? args[1] : "null:?size=1G";
        Path sim = Files.createTempDirectory("tapdisk4j-scale");
        long rssStart = rssKib();
        List<SimGuest> guests = new ArrayList<>();
        List<BlkfrontXenbus> fronts = new ArrayList<>();
        long started = System.nanoTime();
        try (Daemon daemon = Daemon.start(DaemonOptions.sim(sim));
             XsClient xs = XsClient.connect(daemon.xenstoredSocket())) {
            long rssDaemon = rssKib();
            Semaphore parallel = new Semaphore(32);
            List<Future<BlkfrontXenbus>> attaching = new ArrayList<>();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < n; i++) {
                    int domid = 1 + i;
                    SimGuest g = SimGuest.create(sim, domid, 64, 256);
                    guests.add(g);
                    attaching.add(pool.submit(() -> {
                        parallel.acquire();
                        try {
                            VbdId id = new VbdId(domid, 51712);
                            Toolstack.createVbd(xs, id, uri, false);
                            BlkfrontXenbus f = BlkfrontXenbus.connect(xs, g, id, FrontendOptions.defaults(),
                                    Duration.ofSeconds(120));
                            try (GuestBuffer b = f.emulator().allocateBuffer(1)) {
                                if (!f.emulator().write(0, 0, b, 0, 4096).get(30, TimeUnit.SECONDS).ok()
                                        || !f.emulator().read(0, 0, b, 0, 4096).get(30, TimeUnit.SECONDS).ok()) {
                                    throw new IOException(id + ": I/O failed");
                                }
                            }
                            return f;
                        } finally {
                            parallel.release();
                        }
                    }));
                }
                for (Future<BlkfrontXenbus> f : attaching) {
                    fronts.add(f.get(300, TimeUnit.SECONDS));
                }
            }
            double attachSeconds = (System.nanoTime() - started) / 1e9;
            long connected = daemon.devices().stream().filter(d -> d.stats() != null).count();
            // Idle for a moment, then measure after a full GC.
            Thread.sleep(2000);
            System.gc();
            long rssIdle = rssKib();
            Runtime rt = Runtime.getRuntime();
            long heapUsed = rt.totalMemory() - rt.freeMemory();
            int threads = ManagementFactory.getThreadMXBean().getThreadCount();
            System.out.printf("devices attached and connected: %d of %d (%s), attach took %.1f s%n", connected, n,
                    uri, attachSeconds);
            System.out.printf("VmRSS at start: %,d KiB; after daemon start: %,d KiB; with %d idle devices: %,d KiB"
                    + " (%.1f KiB per device incl. its emulated guest)%n", rssStart, rssDaemon, n, rssIdle,
                    (rssIdle - rssDaemon) / (double) n);
            System.out.printf("heap in use after GC: %,d KiB; max heap: %,d KiB; live threads: %d%n",
                    heapUsed / 1024, rt.maxMemory() / 1024, threads);
            VbdInfo sample = daemon.devices().getFirst();
            System.out.printf("sample: %s %s %s queues=%d%n", sample.id(), sample.state(), sample.dataPath(),
                    sample.queues());
        } finally {
            fronts.forEach(BlkfrontXenbus::close);
            guests.forEach(SimGuest::close);
            try (Stream<Path> s = Files.walk(sim)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** VmRSS from /proc/self/status, in KiB. */
    static long rssKib() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
