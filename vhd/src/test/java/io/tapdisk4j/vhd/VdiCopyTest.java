package io.tapdisk4j.vhd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code vdi copy} between two local raw files: copied by the kernel, its writeback started chunk by chunk. */
class VdiCopyTest {

    @TempDir
    Path dir;

    @Test
    void rawToRawCopiesEveryByteAcrossSeveralKernelChunksAndKeepsHoles() throws Exception {
        long size = 3 * VdiOperations.KERNEL_CHUNK + (5L << 20);
        Path src = dir.resolve("src.raw");
        Random rnd = new Random(20);
        // Data over more than one kernel chunk, a hole of two chunks, then data up to the end.
        long[][] runs = {{0, VdiOperations.KERNEL_CHUNK + (3L << 20)}, {size - (6L << 20), 6L << 20}};
        try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
            f.setLength(size);
            byte[] block = new byte[1 << 20];
            for (long[] run : runs) {
                for (long at = run[0]; at < run[0] + run[1]; at += block.length) {
                    rnd.nextBytes(block);
                    f.seek(at);
                    f.write(block);
                }
            }
        }
        Path dst = dir.resolve("dst.raw");

        new VdiOperations().copy("file://" + src, "file://" + dst, "raw", VdiProgress.NONE);

        assertEquals(size, Files.size(dst));
        try (RandomAccessFile a = new RandomAccessFile(src.toFile(), "r");
             RandomAccessFile b = new RandomAccessFile(dst.toFile(), "r")) {
            byte[] x = new byte[1 << 20];
            byte[] y = new byte[1 << 20];
            for (long at = 0; at < size; at += x.length) {
                a.readFully(x);
                b.readFully(y);
                assertArrayEquals(x, y, "bytes at " + at);
            }
        }
        long allocated = io.tapdisk4j.testsupport.AllocatedBytes.of(dst);
        assertTrue(allocated < size - VdiOperations.KERNEL_CHUNK,
                "the hole stays a hole: " + allocated + " bytes allocated of " + size);
    }
}
