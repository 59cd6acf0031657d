package io.tapdisk4j.app;

import io.tapdisk4j.app.daemon.Daemon;
import io.tapdisk4j.app.daemon.DaemonOptions;
import io.tapdisk4j.ring.backend.DataPath;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

/** {@code tapdisk4j serve}: the blkif backend daemon for every vbd3 device in xenstore. */
@Command(name = "serve", description = {
        "Serve every vbd3 virtual block device in xenstore (tapback + tapdisk in one process).",
        "Stops gracefully on SIGTERM or Ctrl-C: requests in flight complete, rings are unmapped."})
final class ServeCommand implements Callable<Integer> {

    static final class Mode {
        @Option(names = "--sim", paramLabel = "DIR", required = true,
                description = "Run on the simulated hypervisor in DIR (starts its xenstored at DIR/xenstored.sock"
                        + " unless one listens there).")
        Path sim;

        @Option(names = "--xen", required = true, description = "Run in a real dom0 (/dev/xen, /var/run/xenstored).")
        boolean xen;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Mode mode;

    @Option(names = "--control", paramLabel = "SOCKET",
            description = "Control socket for `ctl` (default: DIR/tapdisk4j.sock, or /var/run/tapdisk4j/control.sock).")
    Path control;

    @Option(names = "--xenstored", paramLabel = "SOCKET", description = "xenstored socket (default: DIR/xenstored.sock,"
            + " or /var/run/xenstored/socket).")
    Path xenstored;

    @Option(names = "--metrics", paramLabel = "HOST:PORT",
            description = "Serve Prometheus metrics at http://HOST:PORT/metrics (loopback only, e.g. 127.0.0.1:9464).")
    String metrics;

    @Option(names = "--data-path", paramLabel = "PATH", defaultValue = "copy",
            description = "copy (default), map-copy, persistent, or unsafe-map (needs --allow-unsafe).")
    String dataPath;

    @Option(names = "--allow-unsafe", description = "Permit the unsafe-map data path (benchmarks and safety tests only).")
    boolean allowUnsafe;

    @Option(names = "--drain-timeout", paramLabel = "SECONDS", defaultValue = "10",
            description = "How long closing a device waits for requests in flight (default ${DEFAULT-VALUE}).")
    int drainSeconds;

    @Override
    public Integer call() throws Exception {
        DaemonOptions options = new DaemonOptions(mode.sim, xenstored, control, parseMetrics(metrics),
                DataPath.parse(dataPath), allowUnsafe, Duration.ofSeconds(drainSeconds));
        Daemon daemon = Daemon.start(options);
        Thread hook = new Thread(daemon::close, "tapdisk4j-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        System.err.println("tapdisk4j serving; control: " + options.control()
                + (daemon.metricsAddress() != null ? "; metrics: http://" + hostPort(daemon.metricsAddress())
                + "/metrics" : "") + (options.simulated() ? "; xenstore: XENSTORED_PATH=" + options.xenstored() : ""));
        daemon.awaitTermination();
        return 0;
    }

    static InetSocketAddress parseMetrics(String s) {
        if (s == null) {
            return null;
        }
        int i = s.lastIndexOf(':');
        if (i <= 0) {
            throw new IllegalArgumentException("--metrics takes HOST:PORT, e.g. 127.0.0.1:9464");
        }
        return new InetSocketAddress(s.substring(0, i), Integer.parseInt(s.substring(i + 1)));
    }

    private static String hostPort(InetSocketAddress a) {
        return a.getAddress().getHostAddress() + ":" + a.getPort();
    }
}
