package io.tapdisk4j.testsupport.peers;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The benchmark starts one tgtd with glibc tunables in its environment. The variable must reach tgtd, and
 * the pid whose CPU time the benchmark reads must be tgtd's own, not that of the env(1) that started it.
 * (iscsi-backend's tests log in to this fixture's targets.)
 */
class TgtdTest {

    @TempDir
    Path dir;

    @Test
    void environmentReachesTgtdAndThePidIsTgtds() throws Exception {
        Path disk = dir.resolve("lun.raw");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(1 << 20);
        }
        String tunable = "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4194304";
        try (Tgtd tgtd = Tgtd.start(dir.resolve("tgtd"), List.of(tunable)).targetWithLun(disk)) {
            Path proc = Path.of("/proc", Long.toString(tgtd.pid()));
            assertEquals("tgtd", Files.readString(proc.resolve("comm")).trim());
            List<String> environment = Arrays.asList(
                    new String(Files.readAllBytes(proc.resolve("environ")), StandardCharsets.UTF_8).split("\0"));
            assertTrue(environment.contains(tunable), "tgtd's environment: " + environment);

            String shown = tgtd.tgtadm(List.of("--lld", "iscsi", "--op", "show", "--mode", "target"));
            assertTrue(shown.contains(disk.toString()), "LUN 1 is backed by the file: " + shown);
        }
    }
}
