package io.tapdisk4j.vhd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The benchmark still runs and cleans up (its figures are reported, never asserted). */
class VhdWriteBenchmarkTest {

    @TempDir
    Path dir;

    @Test
    void smallRunProducesFiguresAndLeavesNoFiles() throws Exception {
        VhdWriteBenchmark.Result r = VhdWriteBenchmark.run(dir, 16L << 20, 64 << 10, 4, true);
        assertTrue(r.firstWriteMBps() > 0 && r.rewriteMBps() > 0 && r.rawMBps() > 0 && r.memcpyMBps() > 0, r.toString());
        try (var files = Files.list(dir)) {
            assertTrue(files.findAny().isEmpty(), "benchmark files removed");
        }
    }
}
