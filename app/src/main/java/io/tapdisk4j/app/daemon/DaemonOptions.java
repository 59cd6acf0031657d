package io.tapdisk4j.app.daemon;

import io.tapdisk4j.ring.backend.DataPath;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How {@code serve} runs.
 *
 * @param simDir        the simulation directory ({@code --sim DIR}), or null for a real dom0 ({@code --xen})
 * @param xenstored     the xenstored socket (default: DIR/xenstored.sock, or /var/run/xenstored/socket)
 * @param control       the control socket for {@code ctl} (default: DIR/tapdisk4j.sock, or
 *                      /var/run/tapdisk4j/control.sock)
 * @param metrics       where to serve Prometheus {@code /metrics} (loopback address), or null for none
 * @param dataPath      the data path for every device
 * @param allowUnsafe   consent to the unsafe-map data path
 * @param drainTimeout  how long a disconnect (and shutdown) waits for requests in flight
 */
public record DaemonOptions(Path simDir, Path xenstored, Path control, InetSocketAddress metrics, DataPath dataPath,
                            boolean allowUnsafe, Duration drainTimeout) {

    public static final Path XEN_CONTROL = Path.of("/var/run/tapdisk4j/control.sock");
    public static final Path XEN_XENSTORED = Path.of("/var/run/xenstored/socket");

    public DaemonOptions {
        dataPath = dataPath == null ? DataPath.COPY : dataPath;
        drainTimeout = drainTimeout == null ? Duration.ofSeconds(10) : drainTimeout;
        if (xenstored == null) {
            xenstored = simDir != null ? simDir.resolve("xenstored.sock") : XEN_XENSTORED;
        }
        if (control == null) {
            control = defaultControl(simDir);
        }
    }

    public static Path defaultControl(Path simDir) {
        return simDir != null ? simDir.resolve("tapdisk4j.sock") : XEN_CONTROL;
    }

    /** {@code serve --sim DIR} with everything else at its default. */
    public static DaemonOptions sim(Path dir) {
        return new DaemonOptions(Objects.requireNonNull(dir), null, null, null, null, false, null);
    }

    public DaemonOptions withMetrics(InetSocketAddress address) {
        return new DaemonOptions(simDir, xenstored, control, address, dataPath, allowUnsafe, drainTimeout);
    }

    public DaemonOptions withDataPath(DataPath p, boolean unsafe) {
        return new DaemonOptions(simDir, xenstored, control, metrics, p, unsafe, drainTimeout);
    }

    public DaemonOptions withDrainTimeout(Duration d) {
        return new DaemonOptions(simDir, xenstored, control, metrics, dataPath, allowUnsafe, d);
    }

    public DaemonOptions withControl(Path c) {
        return new DaemonOptions(simDir, xenstored, c, metrics, dataPath, allowUnsafe, drainTimeout);
    }

    public boolean simulated() {
        return simDir != null;
    }
}
