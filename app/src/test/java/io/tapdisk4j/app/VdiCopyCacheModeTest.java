package io.tapdisk4j.app;

import io.tapdisk4j.block.local.LinuxFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `vdi copy` writes a local file past the page cache by default (--cache none, as qemu-img convert -t none and
 * sparse_dd), and through it with --cache writeback; the bytes are the same either way.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class VdiCopyCacheModeTest {

    static final int SIZE = (8 << 20) + 512; // a tail shorter than a page goes through the buffered descriptor

    @TempDir
    Path dir;

    /** Whether any whole page of {@code p} is in the page cache (the partial last page is not asked about). */
    static boolean anyPageCached(Path p) throws Exception {
        try (LinuxFile f = LinuxFile.open(p.toString(), LinuxFile.O_RDONLY, 0)) {
            for (long off = 0; off + 4096 <= SIZE; off += 4096) {
                if (f.cached(off, 4096)) {
                    return true;
                }
            }
            return false;
        }
    }

    static boolean allCached(Path p) throws Exception {
        try (LinuxFile f = LinuxFile.open(p.toString(), LinuxFile.O_RDONLY, 0)) {
            return f.cached(0, SIZE);
        }
    }

    /** A source file of random bytes; returns them. */
    byte[] source(Path src, int seed) throws Exception {
        byte[] data = new byte[SIZE];
        new Random(seed).nextBytes(data);
        Files.write(src, data);
        return data;
    }

    @Test
    void theDefaultBypassesThePageCacheAndWritebackGoesThroughIt() throws Exception {
        Path src = dir.resolve("src.raw");
        byte[] data = source(src, 7);

        Path direct = dir.resolve("direct.raw");
        assertEquals(0, Main.run("vdi", "copy", "file://" + src, "file://" + direct));
        // Only the last, partial page may have gone through the page cache.
        assertFalse(anyPageCached(direct), "a --cache none copy left pages in the page cache");
        assertArrayEquals(data, Files.readAllBytes(direct));

        Path buffered = dir.resolve("buffered.raw");
        assertEquals(0, Main.run("vdi", "copy", "--cache", "writeback", "file://" + src, "file://" + buffered));
        assertTrue(allCached(buffered), "a --cache writeback copy leaves its pages in the page cache");
        assertArrayEquals(data, Files.readAllBytes(buffered));
    }

    @Test
    void anExistingFileIsWrittenPastThePageCacheToo() throws Exception {
        Path src = dir.resolve("src.raw");
        byte[] data = source(src, 8);
        Path dst = dir.resolve("dst.raw");
        Files.write(dst, new byte[SIZE]);
        try (LinuxFile f = LinuxFile.open(dst.toString(), LinuxFile.O_RDONLY, 0)) {
            f.fdatasync(); // on the disk, so that O_DIRECT's own writeback of it has nothing left to do
        }
        assertTrue(anyPageCached(dst));
        assertEquals(0, Main.run("vdi", "copy", "--existing", "file://" + src, "file://" + dst));
        // O_DIRECT writes drop the cached pages they overwrite.
        assertFalse(anyPageCached(dst), "a --cache none copy onto an existing file left pages in the page cache");
        assertArrayEquals(data, Files.readAllBytes(dst));
    }
}
