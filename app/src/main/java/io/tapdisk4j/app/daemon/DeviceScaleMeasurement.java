package io.tapdisk4j.app.daemon;

import io.tapdisk4j.ring.hv.sim.SimLayout;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.xenbus.BlkfrontXenbus;
import io.tapdisk4j.ring.xenbus.Toolstack;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenstore.XsClient;

import java.io.IOException;
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
 * How much one serve process costs per device. The daemon runs in a child JVM (as {@code serve --sim DIR}
 * would, with the JVM options in {@code -Dscale.daemonJvm}, default none); this process is the toolstack and
 * N emulated guests: it attaches one disk per guest through the real xenstore handshake, does one 4 KiB write
 * and read on each, lets them idle, and prints the daemon's resident memory (VmRSS from
 * /proc/PID/status) before and after, and this process's (the guests') for comparison.
 *
 * <pre>java -cp app/target/tapdisk4j.jar io.tapdisk4j.app.daemon.DeviceScaleMeasurement [N] [URI]</pre>
 * URI defaults to {@code null:?size=1G} (storage costs nothing, so the figure is the ring server's own).
 */
public final class DeviceScaleMeasurement {

    private DeviceScaleMeasurement() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("--serve")) {
            serve(Path.of(args[1]));
            return;
        }
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        String uri = args.length > 1 ? args[1] : "null:?size=1G";
        Path sim = SimLayout.newDirectory("tapdisk4j-scale");
        List<SimGuest> guests = new ArrayList<>();
        List<BlkfrontXenbus> fronts = new ArrayList<>();
        Process daemon = startDaemon(sim);
        try (XsClient xs = XsClient.connect(sim.resolve("xenstored.sock"))) {
            long pid = daemon.pid();
            long rssDaemon = rssKib(pid);
            long rssGuestsStart = rssKib(ProcessHandle.current().pid());
            long started = System.nanoTime();
            Semaphore parallel = new Semaphore(16);
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
            long connected = 0;
            for (int i = 0; i < n; i++) {
                if (xs.read(new VbdId(1 + i, 51712).backendPath() + "/state").equals("4")) {
                    connected++;
                }
            }
            // Let the daemon settle (its attach-time garbage is collected), then measure.
            Thread.sleep(5000);
            long rssIdle = rssKib(pid);
            System.out.printf("devices connected: %d of %d (%s); attaching took %.1f s%n", connected, n, uri,
                    attachSeconds);
            System.out.printf("serve process (pid %d, JVM options '%s'): VmRSS %,d KiB started, %,d KiB with %d idle"
                    + " devices: %.1f KiB per device%n", pid, System.getProperty("scale.daemonJvm", ""), rssDaemon,
                    rssIdle, n, (rssIdle - rssDaemon) / (double) n);
            System.out.printf("emulated guests' process: VmRSS %,d KiB before, %,d KiB with %d guests%n",
                    rssGuestsStart, rssKib(ProcessHandle.current().pid()), n);
        } finally {
            fronts.forEach(BlkfrontXenbus::close);
            guests.forEach(SimGuest::close);
            daemon.getOutputStream().close(); // the child's stdin closing asks it to stop
            if (!daemon.waitFor(120, TimeUnit.SECONDS)) {
                daemon.destroyForcibly();
            }
            try (Stream<Path> s = Files.walk(sim)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static Process startDaemon(Path sim) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.add("--enable-native-access=ALL-UNNAMED");
        String jvm = System.getProperty("scale.daemonJvm", "").trim();
        if (!jvm.isEmpty()) {
            cmd.addAll(List.of(jvm.split("\\s+")));
        }
        cmd.addAll(List.of("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp",
                System.getProperty("java.class.path"), DeviceScaleMeasurement.class.getName(), "--serve",
                sim.toString()));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String ready = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream())).readLine();
        if (!"ready".equals(ready)) {
            p.destroyForcibly();
            throw new IOException("the daemon did not start");
        }
        return p;
    }

    /** The child: {@code serve --sim DIR} until stdin closes. */
    private static void serve(Path sim) throws Exception {
        Daemon d = Daemon.start(DaemonOptions.sim(sim));
        try {
            System.out.println("ready");
            System.out.flush();
            while (System.in.read() >= 0) {
                // wait for the parent to hang up
            }
        } finally {
            d.close();
        }
    }

    /** VmRSS from /proc/PID/status, in KiB. */
    static long rssKib(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
