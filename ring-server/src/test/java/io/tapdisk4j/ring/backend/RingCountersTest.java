package io.tapdisk4j.ring.backend;

import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.tapdisk4j.ring.blkif.Blkif;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The ring's own recorders: power-of-two buckets with inclusive upper bounds, per-operation latency and size,
 * grant-copy batches, sums over rings, and reads from another thread while the ring's loop writes.
 */
@Timeout(30)
class RingCountersTest {

    @Test
    void bucketsHoldValuesUpToTheirPowerOfTwoInclusive() {
        assertEquals(0, Log2Histogram.bucketOf(0));
        assertEquals(0, Log2Histogram.bucketOf(1));
        assertEquals(1, Log2Histogram.bucketOf(2));
        assertEquals(2, Log2Histogram.bucketOf(3));
        assertEquals(2, Log2Histogram.bucketOf(4));
        assertEquals(12, Log2Histogram.bucketOf(4096));
        assertEquals(13, Log2Histogram.bucketOf(4097));
        assertEquals(0, Log2Histogram.bucketOf(-5));
        assertEquals(Log2Histogram.BUCKETS - 1, Log2Histogram.bucketOf(Long.MAX_VALUE));
        for (int i = 1; i < Log2Histogram.BUCKETS; i++) {
            assertEquals(i, Log2Histogram.bucketOf(Log2Histogram.upperBound(i)));
            assertEquals(i - 1, Log2Histogram.bucketOf(Log2Histogram.upperBound(i - 1)));
        }
    }

    @Test
    void answeredRequestsAreRecordedByOperation() {
        RingCounters c = new RingCounters();
        c.started();
        c.answered(Blkif.OP_READ, 4096, 300_000, Blkif.RSP_OKAY);
        c.started();
        c.answered(Blkif.OP_WRITE, 8192, 3_000_000, Blkif.RSP_OKAY);
        c.started();
        c.answered(Blkif.OP_FLUSH_DISKCACHE, 0, 10_000, Blkif.RSP_ERROR);
        c.started();
        c.answered(99, 0, 1, Blkif.RSP_EOPNOTSUPP);
        c.grantCopyBatch(1);
        c.grantCopyBatch(11);
        c.grantCopyBatch(11);
        RingHistograms h = c.snapshot().histograms();
        assertEquals(1, h.latency(Blkif.OP_READ).count());
        assertEquals(300_000, h.latency(Blkif.OP_READ).sum());
        assertEquals(1, h.latency(Blkif.OP_READ).bucket(Log2Histogram.bucketOf(300_000)));
        assertEquals(1, h.latency(Blkif.OP_WRITE).count());
        assertEquals(1, h.latency(Blkif.OP_FLUSH_DISKCACHE).count());
        assertEquals(1, h.latency(Blkif.OP_RESERVED_1).count(), "an unknown operation counts as reserved");
        assertEquals(4, h.latency().count());
        assertEquals(3_000_000, h.latency().max());
        assertEquals(0, h.size(Blkif.OP_FLUSH_DISKCACHE).count(), "no payload, no size");
        assertEquals(8192, h.size(Blkif.OP_WRITE).sum());
        assertEquals(1, h.size(Blkif.OP_WRITE).cumulative(13));
        assertEquals(0, h.size(Blkif.OP_WRITE).cumulative(12));
        assertEquals(3, h.grantCopyBatches().count());
        assertEquals(23, h.grantCopyBatches().sum());
        assertEquals(2, h.grantCopyBatches().bucket(4));
        assertEquals(11, h.grantCopyBatches().max());
    }

    @Test
    void devicesSumTheirRings() {
        RingCounters a = new RingCounters();
        RingCounters b = new RingCounters();
        a.answered(Blkif.OP_READ, 512, 1000, Blkif.RSP_OKAY);
        b.answered(Blkif.OP_READ, 512, 5000, Blkif.RSP_OKAY);
        b.grantCopyBatch(4);
        BackendStats s = RingCounters.sum(List.of(a, b));
        assertEquals(2, s.histograms().latency(Blkif.OP_READ).count());
        assertEquals(6000, s.histograms().latency(Blkif.OP_READ).sum());
        assertEquals(5000, s.histograms().latency(Blkif.OP_READ).max());
        assertEquals(1, s.histograms().grantCopyBatches().count());
    }

    @Test
    void quantilesInterpolateInsideABucketAndStopAtTheMax() {
        RingCounters c = new RingCounters();
        for (int i = 0; i < 100; i++) {
            c.answered(Blkif.OP_READ, 0, 1000, Blkif.RSP_OKAY); // bucket (512, 1024]
        }
        HistogramSnapshot h = c.snapshot().histograms().latency();
        double p50 = h.quantile(0.5);
        assertTrue(p50 > 512 && p50 <= 1000, "p50 " + p50);
        assertEquals(1000, h.quantile(0.99), 0.0, "capped at the largest value seen");
        assertTrue(Double.isNaN(HistogramSnapshot.EMPTY.quantile(0.5)));
        c.answered(Blkif.OP_READ, 0, 1_000_000, Blkif.RSP_OKAY);
        HistogramSnapshot later = c.snapshot().histograms().latency();
        HistogramSnapshot recent = later.minus(h);
        assertEquals(1, recent.count());
        assertTrue(recent.quantile(0.5) > 500_000, "only the new value is in the window");
    }

    @Test
    void readersOnOtherThreadsSeeCountsGrowAndTheFinalTotals() throws Exception {
        RingCounters c = new RingCounters();
        EventLoop loop = new DefaultEventLoop();
        int n = 200_000;
        try {
            CompletableFuture<Void> written = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < n; i++) {
                    c.started();
                    c.answered(i % 2 == 0 ? Blkif.OP_READ : Blkif.OP_WRITE, 4096, 1 + (i % 5000) * 1000L,
                            Blkif.RSP_OKAY);
                    c.grantCopyBatch(1 + i % 64);
                }
            }, loop);
            long[] lastBuckets = new long[Log2Histogram.BUCKETS];
            long lastCount = 0;
            int reads = 0;
            while (!written.isDone() || reads == 0) {
                BackendStats s = c.snapshot();
                HistogramSnapshot l = s.histograms().latency();
                assertTrue(l.count() >= lastCount, "count never goes backwards");
                assertTrue(l.count() <= n);
                for (int i = 0; i < Log2Histogram.BUCKETS; i++) {
                    assertTrue(l.bucket(i) >= lastBuckets[i], "bucket " + i + " never goes backwards");
                    lastBuckets[i] = l.bucket(i);
                }
                assertTrue(s.inFlight() >= 0);
                lastCount = l.count();
                reads++;
            }
            written.get(20, TimeUnit.SECONDS);
            BackendStats s = c.snapshot();
            RingHistograms h = s.histograms();
            assertEquals(n / 2, h.latency(Blkif.OP_READ).count());
            assertEquals(n / 2, h.latency(Blkif.OP_WRITE).count());
            assertEquals(n, h.size(Blkif.OP_READ).count() + h.size(Blkif.OP_WRITE).count());
            assertEquals(4096L * n, h.size(Blkif.OP_READ).sum() + h.size(Blkif.OP_WRITE).sum());
            assertEquals(n, h.grantCopyBatches().count());
            assertEquals(64, h.grantCopyBatches().max());
            assertEquals(s.latencyNanosSum(), h.latency().sum());
            assertEquals(0, s.inFlight());
        } finally {
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }
}
