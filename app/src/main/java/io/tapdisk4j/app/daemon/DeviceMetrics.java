package io.tapdisk4j.app.daemon;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.tapdisk4j.ring.backend.BackendListener;
import io.tapdisk4j.ring.backend.BackendStats;
import io.tapdisk4j.ring.backend.HistogramSnapshot;
import io.tapdisk4j.ring.backend.RingHistograms;
import io.tapdisk4j.ring.xenbus.Tapback;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenbus.VbdInfo;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * One device's metrics, read from the counters and histograms its rings own (nothing is called per
 * request): errors, in flight and xenbus state as Micrometer meters, the histograms through
 * {@link RingHistogramCollector}, and the recent latency percentiles for {@code ctl stats}. The only
 * callback is the fatal shutdown, which the toolstack hears anyway.
 */
final class DeviceMetrics implements BackendListener {

    /** How long a latency window lasts before the next one starts (percentiles cover one to two of them). */
    private static final long WINDOW_NANOS = TimeUnit.MINUTES.toNanos(1);

    final VbdId id;
    final Tags tags;
    private final MeterRegistry registry;
    private final Function<VbdId, VbdInfo> source;
    private final List<Meter> meters = new CopyOnWriteArrayList<>();
    private final Counter shutdowns;
    /** The last counters read, kept once the device left xenstore so that totals never go backwards. */
    private volatile BackendStats last = new BackendStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    private HistogramSnapshot windowBase = HistogramSnapshot.EMPTY;
    private HistogramSnapshot windowNext = HistogramSnapshot.EMPTY;
    private long windowNextAt = System.nanoTime();

    DeviceMetrics(MeterRegistry registry, Tapback tapback, VbdId id) {
        this(registry, i -> tapback == null ? null : tapback.device(i.domid(), i.devid()).orElse(null), id);
    }

    DeviceMetrics(MeterRegistry registry, Function<VbdId, VbdInfo> source, VbdId id) {
        this.id = id;
        this.registry = registry;
        this.source = source;
        this.tags = Tags.of("domain", Integer.toString(id.domid()), "device", Integer.toString(id.devid()));
        keep(FunctionCounter.builder("tapdisk4j.vbd.errors", this, m -> m.stats().errors())
                .description("requests answered with an error").tags(tags).tag("kind", "response").register(registry));
        keep(FunctionCounter.builder("tapdisk4j.vbd.errors", this, m -> m.stats().badRequests())
                .tags(tags).tag("kind", "bad_request").register(registry));
        shutdowns = keep(Counter.builder("tapdisk4j.vbd.errors").tags(tags).tag("kind", "fatal")
                .register(registry));
        keep(Gauge.builder("tapdisk4j.vbd.inflight", this, m -> m.stats().inFlight())
                .description("requests taken off the rings and not yet answered").tags(tags).register(registry));
        keep(Gauge.builder("tapdisk4j.vbd.state", this, m -> {
                    VbdInfo i = m.source.apply(m.id);
                    return i == null ? 0 : i.state().code();
                })
                .description("the backend's xenbus state (4 = Connected)").tags(tags).register(registry));
    }

    private <M extends Meter> M keep(M m) {
        meters.add(m);
        return m;
    }

    @Override
    public void onShutdown(String reason) {
        shutdowns.increment();
    }

    /** The device's counters over its life in this process (the last ones read once it is gone). */
    BackendStats stats() {
        VbdInfo i = source.apply(id);
        if (i != null) {
            last = i.total();
        }
        return last;
    }

    RingHistograms histograms() {
        return stats().histograms();
    }

    /** p50, p90, p99 in microseconds over the last one to two minutes (NaN when nothing was answered). */
    double[] percentilesMicros() {
        double[] p = percentilesNanos(histograms().latency(), System.nanoTime());
        for (int i = 0; i < p.length; i++) {
            p[i] /= 1000.0;
        }
        return p;
    }

    /**
     * p50, p90, p99 in nanoseconds, each capped at {@code now}'s max; nanoseconds so that a caller scaling
     * them and the max by the same divisor gets a p99 never above the max, not even by rounding.
     */
    synchronized double[] percentilesNanos(HistogramSnapshot now, long nanoTime) {
        if (nanoTime - windowNextAt >= WINDOW_NANOS) {
            windowBase = windowNext;
            windowNext = now;
            windowNextAt = nanoTime;
        }
        HistogramSnapshot recent = now.minus(windowBase);
        return new double[]{recent.quantile(0.5), recent.quantile(0.9), recent.quantile(0.99)};
    }

    /** Removes every meter of this device (it left xenstore). */
    void remove() {
        meters.forEach(registry::remove);
        meters.clear();
    }
}
