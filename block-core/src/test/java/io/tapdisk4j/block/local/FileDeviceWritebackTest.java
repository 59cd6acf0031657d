package io.tapdisk4j.block.local;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.*;

/** FileDevice starts the writeback of its buffered writes every {@code writeback=} bytes, and the data stays intact. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FileDeviceWritebackTest {

    static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    FileDevice open(String params, long size) throws Exception {
        Path p = dir.resolve("disk.raw");
        Files.deleteIfExists(p);
        try (var f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size); // sparse
        }
        return (FileDevice) new LocalDeviceProviders.FileScheme().open(DeviceUri.parse("file://" + p + params),
                OpenOptions.DEFAULT);
    }

    /** Writes {@code model}'s 1 MiB pieces at their offsets, in order, each waited for. */
    static void writeAll(FileDevice d, byte[] model, boolean fua) throws Exception {
        for (int off = 0; off < model.length; off += MIB) {
            ByteBuf b = Buffers.direct(MIB).writeBytes(model, off, MIB);
            d.write(off, b, fua).get(30, TimeUnit.SECONDS);
        }
    }

    /** Writes all of {@code model}, checks how many times writeback started, and reads every byte back. */
    static void assertWritesStart(FileDevice d, byte[] model, boolean fua, long expectedStarts) throws Exception {
        writeAll(d, model, fua);
        assertEquals(expectedStarts, d.writebacksStarted());
        assertReadsBack(d, model);
    }

    static void assertReadsBack(FileDevice d, byte[] model) throws Exception {
        for (int off = 0; off < model.length; off += MIB) {
            ByteBuf b = d.read(off, MIB).get(30, TimeUnit.SECONDS);
            try {
                byte[] got = new byte[MIB];
                b.getBytes(0, got);
                assertArrayEquals(java.util.Arrays.copyOfRange(model, off, off + MIB), got, "at " + off);
            } finally {
                b.release();
            }
        }
    }

    static byte[] random(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }

    @Test
    void startsWritebackEveryBoundAndTheDiskCatchesUp() throws Exception {
        byte[] model = random(100 * MIB);
        try (FileDevice d = open("?writeback=8M", model.length)) {
            writeAll(d, model, false);
            assertEquals(12, d.writebacksStarted(), "100 MiB of writes, every 8 MiB");
            // Nothing flushed the file: only the started writeback can take its dirty pages to the disk before the
            // kernel's own (30 s old or 10% of memory dirty). What the last 4 MiB left may stay dirty.
            long limit = 4L * MIB / 4096;
            long notOnDisk = d.pagesNotOnDisk();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(25);
            while (notOnDisk > limit && System.nanoTime() < deadline) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20)); // the kernel tells no one: asked again
                notOnDisk = d.pagesNotOnDisk();
            }
            assertTrue(notOnDisk >= 0, "cachestat(2) is needed (Linux 6.5 or later)");
            assertTrue(notOnDisk <= limit, notOnDisk + " pages still not on the disk");
            assertReadsBack(d, model);
        }
    }

    @Test
    void theDefaultIs32MiBAndZeroLeavesItToTheKernel() throws Exception {
        byte[] model = random(100 * MIB);
        try (FileDevice d = open("", model.length)) {
            writeAll(d, model, false);
            assertEquals(3, d.writebacksStarted());
        }
        try (FileDevice d = open("?writeback=0", model.length)) {
            assertWritesStart(d, model, false, 0);
        }
    }

    @Test
    void writesThatAreOnTheDiskAlreadyDoNotCount() throws Exception {
        byte[] model = random(40 * MIB);
        try (FileDevice d = open("?writeback=8M", model.length)) {
            assertWritesStart(d, model, true, 0); // FUA: each is written through before it completes
        }
        try (FileDevice d = open("?writeback=8M&direct=1", model.length)) {
            assertWritesStart(d, model, false, 0); // O_DIRECT: no page cache to write back
        }
    }

    @Test
    void concurrentWritesStartItAtLeastOnceAndNeverMoreThanTheirBytesAllow() throws Exception {
        byte[] model = random(256 * MIB);
        try (FileDevice d = open("", model.length)) {
            List<CompletableFuture<Void>> all = new ArrayList<>();
            for (int off = 0; off < model.length; off += MIB) {
                all.add(d.write(off, Buffers.direct(MIB).writeBytes(model, off, MIB), false));
            }
            CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            long started = d.writebacksStarted();
            assertTrue(started >= 1 && started <= 8, started + " writebacks for 256 MiB every 32 MiB");
            d.flush().get(60, TimeUnit.SECONDS);
            assertReadsBack(d, model);
        }
    }

    @Test
    void aWriterThatHintsItsOwnRangesTakesOver() throws Exception {
        byte[] model = random(40 * MIB);
        try (FileDevice d = open("?writeback=8M", model.length)) {
            d.startWriteback(0, MIB); // as vdi copy does behind every chunk it finished
            assertWritesStart(d, model, false, 0);
        }
    }

    @Test
    void aNewFileTakesTheBoundFromItsUriToo() throws Exception {
        Path p = dir.resolve("new.raw");
        byte[] model = random(20 * MIB);
        try (FileDevice d = (FileDevice) new LocalDeviceProviders.FileScheme().create(
                DeviceUri.parse("file://" + p + "?writeback=4M"), model.length)) {
            writeAll(d, model, false);
            assertEquals(5, d.writebacksStarted());
        }
    }

    @Test
    void directIoWritesNeverSitInThePageCache() throws Exception {
        byte[] model = random(16 * MIB);
        try (FileDevice d = open("?direct=1&writeback=0", model.length)) {
            writeAll(d, model, false);
            // Buffered, all 4096 pages would be dirty now (no flush, the trigger off); O_DIRECT left none.
            assertEquals(0, d.pagesNotOnDisk(), "pages of direct writes dirty in the page cache");
            assertReadsBack(d, model);
        }
        try (FileDevice d = open("?writeback=0", model.length)) {
            writeAll(d, model, false);
            assertTrue(d.pagesNotOnDisk() > 0, "the same writes through the page cache leave dirty pages");
        }
    }

    @Test
    void aFileSystemWithoutODirectIsServedThroughThePageCache() throws Exception {
        // procfs refuses O_DIRECT at open (EINVAL), as tmpfs did before Linux 6.6.
        try (FileDevice d = FileDevice.open("/proc/self/cmdline", true, true)) {
            assertFalse(d.directIo());
        }
        try (FileDevice d = open("?direct=1", MIB)) {
            assertTrue(d.directIo(), "a file on " + dir + " takes O_DIRECT");
        }
    }

    @Test
    void aBadSizeIsAClearError() {
        BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> open("?writeback=lots", MIB));
        assertEquals(BlockError.EINVAL, e.error());
        assertTrue(e.getMessage().contains("writeback takes a size") && e.getMessage().contains("'lots'"), e.getMessage());
    }
}
