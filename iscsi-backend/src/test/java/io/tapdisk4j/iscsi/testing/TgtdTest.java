package io.tapdisk4j.iscsi.testing;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.iscsi.device.IscsiBlockDevice;
import io.tapdisk4j.iscsi.device.IscsiUrl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The benchmark starts one tgtd with glibc tunables in its environment. The variable must reach tgtd, and
 * the pid whose CPU time the benchmark reads must be tgtd's own, not that of the env(1) that started it.
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

            IscsiUrl url = IscsiUrl.parse(DeviceUri.parse(tgtd.lunUrl(null, 1)));
            try (IscsiBlockDevice device = IscsiBlockDevice.open(url, url.sessionConfig(), true)) {
                ByteBuf data = device.read(0, 128 * 1024).get(20, TimeUnit.SECONDS);
                try {
                    assertEquals(128 * 1024, data.readableBytes());
                } finally {
                    data.release();
                }
            }
        }
    }
}
