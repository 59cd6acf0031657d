package io.tapdisk4j.block.local;

import io.netty.channel.FileRegion;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceView;
import io.tapdisk4j.block.FileRegionReads;
import io.tapdisk4j.block.ForwardingBlockDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** FileDevice's zero-copy reads: file regions for ranges in the page cache, and nothing otherwise. */
class FileDeviceRegionTest {

    /** Not a multiple of the page size, so the last page is partial. */
    static final int SIZE = (4 << 20) + 1000;

    @TempDir
    Path dir;

    Path image(byte[] data) throws Exception {
        Path p = dir.resolve("disk.raw");
        Files.write(p, data);
        return p;
    }

    static byte[] random(int n) {
        byte[] b = new byte[n];
        new Random(11).nextBytes(b);
        return b;
    }

    /** What the region would put on a socket. */
    static byte[] bytesOf(FileRegion r) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        WritableByteChannel ch = Channels.newChannel(out);
        while (r.transferred() < r.count()) {
            r.transferTo(ch, r.transferred());
        }
        return out.toByteArray();
    }

    /** Writes the file back to disk, then drops its pages from the page cache (POSIX_FADV_DONTNEED via dd). */
    static void evict(Path p) throws Exception {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
            ch.force(true); // dirty pages are not dropped
        }
        Process dd = new ProcessBuilder("dd", "if=" + p, "iflag=nocache", "count=0", "status=none")
                .redirectErrorStream(true).start();
        assertTrue(dd.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, dd.exitValue(), new String(dd.getInputStream().readAllBytes()));
    }

    @Test
    void cachedRangesComeAsRegionsWithTheFilesBytes() throws Exception {
        byte[] data = random(SIZE);
        try (FileDevice dev = FileDevice.open(image(data).toString(), true, false)) {
            for (long[] range : List.of(new long[] {0, 65536}, new long[] {12345, 1 << 20}, new long[] {SIZE - 70000, 70000},
                    new long[] {SIZE - 1, 1})) {
                FileRegion r = dev.readRegion(range[0], (int) range[1]);
                assertNotNull(r, "range " + Arrays.toString(range));
                assertEquals(range[0], r.position());
                assertEquals(range[1], r.count());
                assertArrayEquals(Arrays.copyOfRange(data, (int) range[0], (int) (range[0] + range[1])), bytesOf(r));
                assertTrue(r.release());
            }
            // Releasing regions leaves the device's file open for the next one.
            FileRegion again = dev.readRegion(0, 4096);
            assertArrayEquals(Arrays.copyOf(data, 4096), bytesOf(again));
            again.release();
        }
    }

    @Test
    void noRegionForBadRangesUncachedDataDirectIoOrAClosedDevice() throws Exception {
        Path p = image(random(SIZE));
        try (FileDevice dev = FileDevice.open(p.toString(), false, false)) {
            assertNull(dev.readRegion(SIZE - 4096, 8192), "crosses the end");
            assertNull(dev.readRegion(SIZE, 1), "starts at the end");
            assertNull(dev.readRegion(-1, 4096));
            assertNull(dev.readRegion(0, 0));
            assertNull(dev.readRegion(Long.MAX_VALUE - 10, 4096));

            evict(p);
            assertNull(dev.readRegion(1 << 20, 1 << 20), "not in the page cache: sending it would wait for the disk");
            dev.read(1 << 20, 1 << 20).get(10, TimeUnit.SECONDS).release(); // reading brings it in
            FileRegion r = dev.readRegion(1 << 20, 1 << 20);
            assertNotNull(r);
            r.release();
        }
        try (FileDevice direct = FileDevice.open(p.toString(), true, true)) {
            assertNull(direct.readRegion(0, 65536), "O_DIRECT keeps the device out of the page cache");
        }
        FileDevice closed = FileDevice.open(p.toString(), true, false);
        FileRegion before = closed.readRegion(1 << 20, 4096); // still cached from the read above
        assertNotNull(before);
        closed.close();
        assertNull(closed.readRegion(1 << 20, 4096));
        before.release();
    }

    @Test
    void regionsSendTheOpenFileEvenAfterItWasReplaced() throws Exception {
        byte[] data = random(SIZE);
        Path p = image(data);
        try (FileDevice dev = FileDevice.open(p.toString(), true, false)) {
            Files.move(p, dir.resolve("renamed.raw"));
            Files.write(p, new byte[SIZE]); // another file under the old name
            FileRegion r = dev.readRegion(0, 65536);
            assertArrayEquals(Arrays.copyOf(data, 65536), bytesOf(r));
            r.release();
        }
    }

    @Test
    void cachestatCountsThePagesOfTheRange() throws Exception {
        Path p = image(random(SIZE));
        try (LinuxFile f = LinuxFile.open(p.toString(), LinuxFile.O_RDONLY, 0)) {
            assertTrue(f.cached(0, SIZE));
            assertTrue(f.cached(SIZE - 10, 10), "the partial last page");
            assertFalse(f.cached(0, 0));
            evict(p);
            assertFalse(f.cached(0, SIZE));
            assertFalse(f.cached(4096, 1));
        }
    }

    @Test
    void viewsPassRegionsOnAndOtherWrappersDoNot() throws Exception {
        Path p = image(random(SIZE));
        try (FileDevice dev = FileDevice.open(p.toString(), true, false)) {
            BlockDevice view = BlockDeviceView.shared(dev, true);
            FileRegion r = ((FileRegionReads) view).readRegion(0, 65536);
            assertNotNull(r);
            r.release();
            assertNull(((FileRegionReads) BlockDeviceView.shared(new MemoryDevice("m", 1 << 20), true)).readRegion(0, 4096));
            // A wrapper may change what reads return: it offers no regions unless it says so itself.
            BlockDevice wrapper = new ForwardingBlockDevice(dev) {
            };
            assertFalse(wrapper instanceof FileRegionReads);
        }
    }
}
