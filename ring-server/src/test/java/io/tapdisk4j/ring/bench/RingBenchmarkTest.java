package io.tapdisk4j.ring.bench;

import io.tapdisk4j.ring.backend.DataPath;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The benchmark runs and counts what it moved (speed is measured by the benchmark, never asserted). */
class RingBenchmarkTest {

    @Test
    void shortRunMovesDataWithoutErrors() throws Exception {
        for (DataPath p : DataPath.values()) {
            RingBenchmark.Result r = RingBenchmark.run(new RingBenchmark.Options("null:", 2, 2, 64 << 10, p, p.ordinal() % 2 == 0,
                    0.2, 4, 1), null);
            // Every request in flight when the run stops is waited for: at least that many completed.
            assertTrue(r.completedTotal() >= 2 * 2 * 4, p + ": " + r.completedTotal());
            assertEquals(r.requests() * (64 << 10), r.bytes());
            assertEquals(0, r.errors());
            assertTrue(r.memcpyBytesPerSecond() > 0);
            assertTrue(r.summary().contains(p.cliName()), r.summary());
        }
    }

    @Test
    void matrixTableShowsShareOfMemcpyAndCopyOverMapCopy() {
        var copy = new RingBenchmark.Result(RingBenchmark.Options.of("null:", 1, 1, 65536, DataPath.COPY, false, 1),
                1000, 2_000_000_000L, 1.0, 0, 4e9, 1000);
        var map = new RingBenchmark.Result(RingBenchmark.Options.of("null:", 1, 1, 65536, DataPath.MAP_COPY, false, 1),
                100, 500_000_000L, 1.0, 0, 4e9, 100);
        String t = RingBenchmarkMatrix.table(java.util.List.of(copy, map));
        assertTrue(t.contains("| 1 | 1 | 64K | read | 4.0 | 2.00 (50 %) | 0.50 (13 %) | 4.0× |"), t);
    }

    @Test
    void anIsolatedPointRunsInAChildJvmAndReportsWhatItMoved() throws Exception {
        // One second (after a two-second warm-up): with 0.2 s a child JVM on a loaded machine had not yet
        // finished its first requests' start-up work when the measured window closed, and counted nothing.
        RingBenchmark.Options o = new RingBenchmark.Options("null:", 1, 1, 64 << 10, DataPath.COPY, true, 1.0, 4, 1);
        RingBenchmark.Result r = RingBenchmarkPoint.runIsolated(o);
        assertEquals(o, r.options());
        assertTrue(r.requests() > 0, "requests " + r.requests());
        assertEquals(r.requests() * (64 << 10), r.bytes());
        assertEquals(0, r.errors());
        assertTrue(r.memcpyBytesPerSecond() > 0);
    }
}
