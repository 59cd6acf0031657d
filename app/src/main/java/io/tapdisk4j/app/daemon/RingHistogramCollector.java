package io.tapdisk4j.app.daemon;

import io.tapdisk4j.ring.backend.HistogramSnapshot;
import io.tapdisk4j.ring.backend.Log2Histogram;
import io.tapdisk4j.ring.backend.RingHistograms;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Quantile;
import io.prometheus.metrics.model.snapshots.Quantiles;
import io.prometheus.metrics.model.snapshots.SummarySnapshot;

import java.util.Collection;
import java.util.function.Supplier;

/**
 * Exposes the rings' own histograms at scrape time, under the names the daemon's Micrometer meters had:
 * {@code tapdisk4j_vbd_requests_seconds} (histogram per operation), {@code tapdisk4j_vbd_latency_seconds}
 * (summary with p50/p90/p99), {@code tapdisk4j_vbd_request_size_bytes} and {@code tapdisk4j_vbd_bytes_total}
 * per operation, and {@code tapdisk4j_grantcopy_batch_segments} over all devices. A series appears with its
 * first request, as before. Registered on the Prometheus registry that Micrometer's registry scrapes.
 */
final class RingHistogramCollector implements MultiCollector {

    private static final String[] OPS = {"read", "write", "barrier", "flush", "reserved", "discard", "indirect"};
    /** Latency buckets: every power of two from 2^14 ns (16 us) to 2^32 ns (4.3 s). */
    private static final int[] LATENCY_BUCKETS = range(14, 32);
    /** Size buckets: the same bounds as before (512 B to 1 MiB), all powers of two. */
    private static final int[] SIZE_BUCKETS = {9, 12, 14, 16, 18, 20};
    /** Segments per batch: 1 to 1024, as before. */
    private static final int[] BATCH_BUCKETS = range(0, 10);
    private static final double NANOS_PER_SECOND = 1e9;

    private final Supplier<Collection<DeviceMetrics>> devices;
    /** Grant-copy batches of devices that are gone, so that the all-devices total never goes backwards. */
    private HistogramSnapshot retiredBatches = HistogramSnapshot.EMPTY;

    RingHistogramCollector(Supplier<Collection<DeviceMetrics>> devices) {
        this.devices = devices;
    }

    private static int[] range(int from, int to) {
        int[] r = new int[to - from + 1];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }

    /**
     * Keeps a departing device's grant-copy batches in the total: {@code unlist} takes it out of the devices
     * this collector reads, in the same step, so that no scrape counts it twice or not at all.
     */
    synchronized void retire(RingHistograms last, Runnable unlist) {
        unlist.run();
        retiredBatches = retiredBatches.plus(last.grantCopyBatches());
    }

    @Override
    public synchronized MetricSnapshots collect() {
        var requests = io.prometheus.metrics.model.snapshots.HistogramSnapshot.builder()
                .name("tapdisk4j_vbd_requests_seconds").help("requests answered, by operation");
        var requestsMax = GaugeSnapshot.builder().name("tapdisk4j_vbd_requests_seconds_max")
                .help("requests answered, by operation");
        var latency = SummarySnapshot.builder().name("tapdisk4j_vbd_latency_seconds")
                .help("request latency, all operations");
        var latencyMax = GaugeSnapshot.builder().name("tapdisk4j_vbd_latency_seconds_max")
                .help("request latency, all operations");
        var sizes = io.prometheus.metrics.model.snapshots.HistogramSnapshot.builder()
                .name("tapdisk4j_vbd_request_size_bytes").help("payload bytes per request, by operation");
        var sizesMax = GaugeSnapshot.builder().name("tapdisk4j_vbd_request_size_bytes_max")
                .help("payload bytes per request, by operation");
        var bytes = CounterSnapshot.builder().name("tapdisk4j_vbd_bytes").help("payload bytes, by operation");
        HistogramSnapshot batches = retiredBatches;
        for (DeviceMetrics d : devices.get()) {
            RingHistograms h = d.histograms();
            batches = batches.plus(h.grantCopyBatches());
            Labels device = Labels.of("device", Integer.toString(d.id.devid()), "domain",
                    Integer.toString(d.id.domid()));
            HistogramSnapshot all = h.latency();
            if (all.count() > 0) {
                double[] p = d.percentilesNanos(all, System.nanoTime());
                latency.dataPoint(SummarySnapshot.SummaryDataPointSnapshot.builder().labels(device)
                        .count(all.count()).sum(all.sum() / NANOS_PER_SECOND)
                        .quantiles(Quantiles.of(new Quantile(0.5, p[0] / NANOS_PER_SECOND),
                                new Quantile(0.9, p[1] / NANOS_PER_SECOND), new Quantile(0.99, p[2] / NANOS_PER_SECOND))).build());
                latencyMax.dataPoint(gauge(device, all.max() / NANOS_PER_SECOND));
            }
            for (int op = 0; op < RingHistograms.OPS; op++) {
                Labels labels = device.add("op", OPS[op]);
                HistogramSnapshot l = h.latency(op);
                if (l.count() > 0) {
                    requests.dataPoint(histogram(labels, l, LATENCY_BUCKETS, NANOS_PER_SECOND));
                    requestsMax.dataPoint(gauge(labels, l.max() / NANOS_PER_SECOND));
                }
                HistogramSnapshot s = h.size(op);
                if (s.count() > 0) {
                    sizes.dataPoint(histogram(labels, s, SIZE_BUCKETS, 1));
                    sizesMax.dataPoint(gauge(labels, s.max()));
                    bytes.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().labels(labels)
                            .value(s.sum()).build());
                }
            }
        }
        return MetricSnapshots.of(requests.build(), requestsMax.build(), latency.build(), latencyMax.build(),
                sizes.build(), sizesMax.build(), bytes.build(),
                io.prometheus.metrics.model.snapshots.HistogramSnapshot.builder()
                        .name("tapdisk4j_grantcopy_batch_segments")
                        .help("segments per executed grant-copy batch (all devices)")
                        .dataPoint(histogram(Labels.EMPTY, batches, BATCH_BUCKETS, 1)).build(),
                GaugeSnapshot.builder().name("tapdisk4j_grantcopy_batch_segments_max")
                        .help("segments per executed grant-copy batch (all devices)")
                        .dataPoint(gauge(Labels.EMPTY, batches.max())).build());
    }

    private static GaugeSnapshot.GaugeDataPointSnapshot gauge(Labels labels, double value) {
        return GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(labels).value(value).build();
    }

    /**
     * Exposes the power-of-two buckets {@code exposed} (exponents, ascending) of {@code h}, each bound
     * divided by {@code scale}; every value above the last bound counts in +Inf.
     */
    static io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot histogram(
            Labels labels, HistogramSnapshot h, int[] exposed, double scale) {
        double[] bounds = new double[exposed.length + 1];
        long[] counts = new long[exposed.length + 1];
        long below = 0;
        for (int i = 0; i < exposed.length; i++) {
            bounds[i] = Log2Histogram.upperBound(exposed[i]) / scale;
            long upTo = h.cumulative(exposed[i]);
            counts[i] = upTo - below;
            below = upTo;
        }
        bounds[exposed.length] = Double.POSITIVE_INFINITY;
        counts[exposed.length] = h.count() - below;
        return io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot.builder()
                .labels(labels).classicHistogramBuckets(ClassicHistogramBuckets.of(bounds, counts))
                .sum(h.sum() / scale).build();
    }
}
