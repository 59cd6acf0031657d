package io.tapdisk4j.app.daemon;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.ring.backend.BlkifBackend;
import io.tapdisk4j.ring.hv.Hypervisor;
import io.tapdisk4j.ring.hv.sim.SimHypervisor;
import io.tapdisk4j.ring.hv.xen.XenHypervisor;
import io.tapdisk4j.ring.sim.xenstored.SimXenstored;
import io.tapdisk4j.ring.xenbus.Tapback;
import io.tapdisk4j.ring.xenbus.TapbackOptions;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenbus.VbdInfo;
import io.tapdisk4j.ring.xenstore.XsClient;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;

/**
 * The {@code serve} daemon as a plain Java object (the CLI, the demo and tests start it in-process): a
 * xenstore connection (starting the simulated xenstored when {@code --sim DIR} has none), the hypervisor,
 * {@link Tapback} serving every vbd3 device, the control socket, and optionally Prometheus metrics.
 * {@link #close()} is the graceful shutdown: every device drains its requests in flight, unmaps, unbinds.
 */
public final class Daemon implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Daemon.class);

    private final DaemonOptions options;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Map<VbdId, DeviceMetrics> metrics = new ConcurrentHashMap<>();
    /** The rings' histograms, read at scrape time. */
    private final RingHistogramCollector ringHistograms = new RingHistogramCollector(metrics::values);
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private SimXenstored xenstored;
    private Hypervisor hypervisor;
    private XsClient xs;
    private Tapback tapback;
    private ControlServer control;
    private MetricsServer metricsServer;
    private DeviceExports exports;
    private volatile boolean closed;

    private Daemon(DaemonOptions options) {
        this.options = options;
    }

    /** Starts everything, or nothing: a failure releases what was already started. */
    public static Daemon start(DaemonOptions options) throws IOException {
        Daemon d = new Daemon(options);
        try {
            d.startAll();
        } catch (IOException | RuntimeException e) {
            d.close();
            throw e;
        }
        return d;
    }

    private void startAll() throws IOException {
        if (options.simulated()) {
            Files.createDirectories(options.simDir());
            if (!SimXenstored.listening(options.xenstored())) {
                xenstored = SimXenstored.start(options.xenstored());
            } else {
                log.info("using the xenstored already listening on {}", options.xenstored());
            }
            hypervisor = new SimHypervisor(options.simDir());
        } else {
            hypervisor = XenHypervisor.open();
        }
        xs = XsClient.connect(options.xenstored());
        TapbackOptions topts = new TapbackOptions(hypervisor, BlockDevices.loadDefault(), options.dataPath(),
                options.allowUnsafe(), BlkifBackend.DEFAULT_MAX_INDIRECT_SEGMENTS, options.drainTimeout(),
                id -> metrics.computeIfAbsent(id, i -> new DeviceMetrics(registry, tapback, i)));
        tapback = Tapback.start(xs, topts);
        registry.getPrometheusRegistry().register(ringHistograms);
        tapback.addListener(this::deviceChanged);
        ProcessMetrics.bind(registry, tapback);
        exports = new DeviceExports(tapback);
        control = new ControlServer(options.control(), new ControlCommands(tapback, metrics, exports));
        if (options.metrics() != null) {
            if (!options.metrics().getAddress().isLoopbackAddress()) {
                throw new IOException("metrics are served on loopback only, not " + options.metrics());
            }
            metricsServer = new MetricsServer(options.metrics(), registry);
        }
        log.info("tapdisk4j serving ({}): xenstore {}, control {}{}", hypervisor.name(), options.xenstored(),
                options.control(), metricsServer != null ? ", metrics http:/" + metricsServer.address() + "/metrics"
                        : "");
    }

    private void deviceChanged(VbdInfo info) {
        if ("removed".equals(info.phase()) || "released".equals(info.phase())) {
            if (exports != null) {
                exports.deviceRemoved(info.id());
            }
        }
        if ("removed".equals(info.phase())) {
            // Every incarnation of the device reports its own removal (Tapback may recreate one while the
            // old one is released), so each adds its batches; the first takes the device's metrics away.
            ringHistograms.retire(info.total().histograms(), () -> {
                DeviceMetrics m = metrics.remove(info.id());
                if (m != null) {
                    m.remove();
                }
            });
        }
    }

    public DaemonOptions options() {
        return options;
    }

    public Tapback tapback() {
        return tapback;
    }

    public List<VbdInfo> devices() {
        return tapback.devices();
    }

    /** The xenstored socket in use (DIR/xenstored.sock under --sim). */
    public Path xenstoredSocket() {
        return options.xenstored();
    }

    public Path controlSocket() {
        return options.control();
    }

    /** Where /metrics is served (with the real port when 0 was asked for), or null. */
    public InetSocketAddress metricsAddress() {
        return metricsServer == null ? null : metricsServer.address();
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** Blocks until {@link #close()} has finished. */
    public void awaitTermination() throws InterruptedException {
        stopped.await();
    }

    /** Graceful shutdown: stop taking commands, drain and release every device, stop xenstored if ours. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        log.info("tapdisk4j shutting down: draining devices");
        if (control != null) {
            control.close();
        }
        if (exports != null) {
            exports.close();
        }
        if (tapback != null) {
            tapback.close(options.drainTimeout().plusSeconds(10));
        }
        if (metricsServer != null) {
            metricsServer.close();
        }
        if (xs != null) {
            xs.close();
        }
        if (hypervisor != null) {
            hypervisor.close();
        }
        if (xenstored != null) {
            xenstored.close();
        }
        registry.close();
        log.info("tapdisk4j stopped");
        stopped.countDown();
    }
}
