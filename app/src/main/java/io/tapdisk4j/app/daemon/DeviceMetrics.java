package io.tapdisk4j.app.daemon;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import io.tapdisk4j.ring.backend.BackendListener;
import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.xenbus.Tapback;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenbus.VbdInfo;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * One device's Micrometer meters, fed by the ring server's {@link BackendListener}: requests and bytes by
 * operation, latency histograms (fixed buckets, so a thousand devices stay scrapeable), errors, in flight,
 * xenbus state. Meters appear with the device's first request, so idle devices cost almost nothing.
 */
final class DeviceMetrics implements BackendListener {

    private static final String[] OPS = {"read", "write", "barrier", "flush", "reserved", "discard", "indirect"};
    private static final Duration[] BUCKETS = {Duration.ofNanos(50_000), Duration.ofNanos(100_000),
            Duration.ofNanos(250_000), Duration.ofNanos(500_000), Duration.ofMillis(1), Duration.ofMillis(2),
            Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50),
            Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofSeconds(1), Duration.ofSeconds(5)};

    private final MeterRegistry registry;
    private final Tags tags;
    private final List<Meter> meters = new CopyOnWriteArrayList<>();
    private final AtomicReferenceArray<Timer> timers = new AtomicReferenceArray<>(OPS.length);
    private final AtomicReferenceArray<DistributionSummary> sizes = new AtomicReferenceArray<>(OPS.length);
    private final AtomicReferenceArray<Counter> bytes = new AtomicReferenceArray<>(OPS.length);
    private final Counter errors;
    private final Counter badRequests;
    private final Counter shutdowns;
    private volatile Timer latency;

    DeviceMetrics(MeterRegistry registry, Tapback tapback, VbdId id) {
        this.registry = registry;
        this.tags = Tags.of("domain", Integer.toString(id.domid()), "device", Integer.toString(id.devid()));
        errors = keep(Counter.builder("tapdisk4j.vbd.errors").description("requests answered with an error")
                .tags(tags).tag("kind", "response").register(registry));
        badRequests = keep(Counter.builder("tapdisk4j.vbd.errors").tags(tags).tag("kind", "bad_request")
                .register(registry));
        shutdowns = keep(Counter.builder("tapdisk4j.vbd.errors").tags(tags).tag("kind", "fatal")
                .register(registry));
        keep(Gauge.builder("tapdisk4j.vbd.inflight", tapback, t -> t.device(id.domid(), id.devid())
                        .map(i -> i.stats() == null ? 0 : i.stats().inFlight()).orElse(0L))
                .description("requests taken off the rings and not yet answered").tags(tags).register(registry));
        keep(Gauge.builder("tapdisk4j.vbd.state", tapback, t -> t.device(id.domid(), id.devid())
                        .map(i -> i.state().code()).orElse(0))
                .description("the backend's xenbus state (4 = Connected)").tags(tags).register(registry));
    }

    private <M extends Meter> M keep(M m) {
        meters.add(m);
        return m;
    }

    @Override
    public void onRequest(int queue, int operation, long byteCount, long latencyNanos, int status) {
        int op = operation >= 0 && operation < OPS.length ? operation : Blkif.OP_RESERVED_1;
        timer(op).record(latencyNanos, TimeUnit.NANOSECONDS);
        allOps().record(latencyNanos, TimeUnit.NANOSECONDS);
        if (byteCount > 0) {
            size(op).record(byteCount);
            bytes(op).increment(byteCount);
        }
        if (status != Blkif.RSP_OKAY) {
            errors.increment();
        }
    }

    @Override
    public void onBadRequest(int queue, String reason) {
        badRequests.increment();
    }

    @Override
    public void onShutdown(String reason) {
        shutdowns.increment();
    }

    private Timer timer(int op) {
        Timer t = timers.get(op);
        if (t == null) {
            t = keep(Timer.builder("tapdisk4j.vbd.requests").description("requests answered, by operation")
                    .tags(tags).tag("op", OPS[op]).serviceLevelObjectives(BUCKETS).register(registry));
            timers.set(op, t);
        }
        return t;
    }

    /** All operations together, with client-side percentiles for {@code ctl stats}. */
    private Timer allOps() {
        Timer t = latency;
        if (t == null) {
            t = keep(Timer.builder("tapdisk4j.vbd.latency").description("request latency, all operations")
                    .tags(tags).publishPercentiles(0.5, 0.9, 0.99).register(registry));
            latency = t;
        }
        return t;
    }

    private DistributionSummary size(int op) {
        DistributionSummary s = sizes.get(op);
        if (s == null) {
            s = keep(DistributionSummary.builder("tapdisk4j.vbd.request.size").baseUnit("bytes").tags(tags)
                    .tag("op", OPS[op]).serviceLevelObjectives(512, 4096, 16384, 65536, 262144, 1048576)
                    .register(registry));
            sizes.set(op, s);
        }
        return s;
    }

    private Counter bytes(int op) {
        Counter c = bytes.get(op);
        if (c == null) {
            c = keep(Counter.builder("tapdisk4j.vbd.bytes").baseUnit("bytes").tags(tags).tag("op", OPS[op])
                    .register(registry));
            bytes.set(op, c);
        }
        return c;
    }

    /** p50, p90, p99 in microseconds over the recent window (NaN before the first request). */
    double[] percentilesMicros() {
        Timer t = latency;
        double[] out = {Double.NaN, Double.NaN, Double.NaN};
        if (t == null) {
            return out;
        }
        ValueAtPercentile[] v = t.takeSnapshot().percentileValues();
        for (int i = 0; i < v.length && i < 3; i++) {
            out[i] = v[i].value(TimeUnit.MICROSECONDS);
        }
        return out;
    }

    /** Removes every meter of this device (it left xenstore). */
    void remove() {
        meters.forEach(registry::remove);
        meters.clear();
    }

    static boolean gone(VbdInfo info) {
        return "removed".equals(info.phase());
    }
}
