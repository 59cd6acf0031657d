package io.tapdisk4j.app;

import io.tapdisk4j.app.daemon.Daemon;
import io.tapdisk4j.app.daemon.DaemonOptions;
import io.tapdisk4j.app.demo.GuestWorkload;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Sizes;
import io.tapdisk4j.nbd.server.NbdExport;
import io.tapdisk4j.nbd.server.NbdServer;
import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.xenbus.BlkfrontXenbus;
import io.tapdisk4j.ring.xenbus.Toolstack;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenstore.XsClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

/**
 * {@code tapdisk4j demo}: the whole system on one machine without Xen. A simulated hypervisor and
 * xenstored, the daemon, a thin VHD VDI, an emulated guest attached through the real xenbus handshake,
 * a verified workload with live progress, and an NBD export of the attached disk; then it waits for
 * Ctrl-C and tears everything down in order.
 */
@Command(name = "demo", description = "Run the whole system on this machine with a simulated hypervisor: "
        + "daemon, a VHD VDI, an emulated guest, a workload, an NBD export. Ctrl-C stops it.")
final class DemoCommand implements Callable<Integer> {

    private static final VbdId XVDA = new VbdId(1, 51712);

    @Option(names = "--dir", description = "Simulation directory (default: a new temporary directory, removed at exit).")
    Path dir;

    @Option(names = "--size", defaultValue = "1G", description = "Virtual size of the VDI (default ${DEFAULT-VALUE}).")
    String size;

    @Option(names = "--format", defaultValue = "vhd", description = "VDI format: vhd or raw.")
    String format;

    @Option(names = "--seconds", defaultValue = "8", description = "Duration of the guest's workload.")
    double seconds;

    @Option(names = "--data-path", defaultValue = "copy", description = "copy, map-copy or persistent.")
    String dataPath;

    // Not NBD's standard 10809 by default: a real NBD server on this machine (nbd-server, qemu-nbd) owns that.
    @Option(names = "--nbd-port", defaultValue = "0", description = "NBD export port on 127.0.0.1 (default: a free port).")
    int nbdPort;

    @Option(names = "--exit", description = "Stop after the workload instead of waiting for Ctrl-C.")
    boolean exitAfterWorkload;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        boolean terminal = System.console() != null;
        boolean ownDir = dir == null;
        Path sim = ownDir ? Files.createTempDirectory("tapdisk4j-demo-") : Files.createDirectories(dir);
        DataPath path = DataPath.parse(dataPath);
        if (path == DataPath.UNSAFE_MAP) {
            throw new IllegalArgumentException("the demo does not run the unsafe-map data path");
        }
        CountDownLatch interrupted = new CountDownLatch(1);
        CountDownLatch finished = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            interrupted.countDown();
            try {
                finished.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "demo-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        out.println("tapdisk4j demo — everything below runs in this process, without Xen");
        out.println("  simulation directory  " + sim);
        Daemon daemon = null;
        NbdServer nbd = null;
        SimGuest guestDomain = null;
        BlkfrontXenbus frontend = null;
        XsClient xs = null;
        try {
            daemon = Daemon.start(DaemonOptions.sim(sim).withDataPath(path, false)
                    .withMetrics(new InetSocketAddress("127.0.0.1", 0)));
            out.println("  daemon                xenstored " + daemon.xenstoredSocket() + ", control "
                    + daemon.controlSocket());
            long bytes = Sizes.parse(size);
            Path sr = Files.createDirectories(sim.resolve("sr"));
            String uri = "file://" + sr.resolve("demo." + format);
            try (BlockDevice created = BlockDevices.loadDefault().create(DeviceUri.parse(uri), bytes, format)) {
                out.println("  VDI                   " + uri + " (" + format + ", " + Sizes.format(created.size())
                        + " virtual, thin)");
            }
            xs = XsClient.connect(daemon.xenstoredSocket());
            Toolstack.createVbd(xs, XVDA, uri, false);
            guestDomain = SimGuest.create(sim, XVDA.domid(), 4096, 4096);
            frontend = BlkfrontXenbus.connect(xs, guestDomain, XVDA, FrontendOptions.defaults().withQueues(2),
                    Duration.ofSeconds(15));
            out.println("  guest                 domain " + XVDA.domid() + " connected as xvda: " + frontend.sectors()
                    + " sectors, 2 queues, data path " + path.cliName());
            BlockDevice shared = daemon.tapback().sharedDevice(XVDA, true)
                    .orElseThrow(() -> new IOException("the attached device is not open"));
            nbd = NbdServer.builder()
                    .export(new NbdExport("xvda", "domain 1 xvda (read-only view of the attached VDI)", shared, true))
                    .bindTcp("127.0.0.1", nbdPort);
            out.println("  NBD export            nbd://127.0.0.1:" + nbd.port() + "/xvda (read-only, sees the guest's writes)");
            out.println();
            GuestWorkload.Result r = new GuestWorkload(frontend.emulator(), frontend.sectors() * 512, out, terminal)
                    .run(seconds);
            out.printf("  workload done: %d requests, %d errors, %d blocks failed verification%n",
                    r.requests(), r.errors(), r.mismatches());
            out.println();
            if (exitAfterWorkload) {
                out.println("Run it without --exit to keep it serving, then try ctl, xenstore-ls and NBD tools on it.");
            } else {
                printTryNext(out, sim, daemon, nbd.port());
                out.println();
                out.println("Serving until Ctrl-C.");
                interrupted.await();
                out.println();
                out.println("Stopping: guest disconnects, daemon drains, everything is released.");
            }
            return r.errors() == 0 && r.mismatches() == 0 ? 0 : 1;
        } finally {
            if (nbd != null) {
                nbd.close();
            }
            if (frontend != null) {
                try {
                    frontend.disconnect();
                } catch (IOException e) {
                    out.println("  guest disconnect: " + e.getMessage());
                }
                frontend.close();
            }
            if (xs != null) {
                try {
                    Toolstack.removeVbd(xs, XVDA);
                } catch (IOException e) {
                    out.println("  removing the VBD: " + e.getMessage());
                }
                xs.close();
            }
            if (daemon != null) {
                daemon.close();
            }
            if (guestDomain != null) {
                guestDomain.close();
            }
            if (ownDir) {
                deleteTree(sim);
            }
            out.println("tapdisk4j demo stopped.");
            finished.countDown();
            if (interrupted.getCount() == 1) {
                Runtime.getRuntime().removeShutdownHook(hook);
            }
        }
    }

    private static void printTryNext(PrintStream out, Path sim, Daemon daemon, int nbdPort) {
        out.println("Try, from another terminal:");
        out.println("  XENSTORED_PATH=" + daemon.xenstoredSocket() + " xenstore-ls /local/domain/0/backend/vbd3");
        out.println("  ./tapdisk4j ctl --sim " + sim + " list");
        out.println("  ./tapdisk4j ctl --sim " + sim + " stats");
        if (daemon.metricsAddress() != null) {
            out.println("  curl -s http://127.0.0.1:" + daemon.metricsAddress().getPort() + "/metrics | grep tapdisk4j");
        }
        out.println("  qemu-img info nbd://127.0.0.1:" + nbdPort + "/xvda");
        out.println("  nbdinfo --map nbd://127.0.0.1:" + nbdPort + "/xvda");
        out.println("(xenstore-utils, qemu-utils and libnbd-bin are Debian packages; the demo needs none of them.)");
    }

    /** Removes a directory tree, reporting (not throwing) what it could not remove. */
    static void deleteTree(Path root) {
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("could not remove " + root + ": " + e.getMessage());
        }
    }
}
