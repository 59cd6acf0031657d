package io.tapdisk4j.block.cbt;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Compatibility with blktap's {@code .cbtlog}: a C program built from the layout blktap documents
 * ({@code struct cbt_log_metadata} of cbt/cbt-util.h, bits set in {@code unsigned long} words as
 * drivers/block-log.c does) writes logs we read, and reads logs we write, so gcc decides the header's
 * size, padding and the bitmap's bit order.
 */
@Timeout(120)
class BlktapLayoutTest {

    private static final int B = CbtLog.BLOCK_SIZE;
    private static final UUID PARENT = UUID.fromString("00010203-0405-0607-0809-0a0b0c0d0e0f");
    private static final UUID CHILD = UUID.fromString("f0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfeff");

    @TempDir
    static Path bin;
    @TempDir
    Path dir;
    private static Path tool;

    @BeforeAll
    static void build() throws Exception {
        Path source = Path.of("src/test/c/blktap_cbtlog.c").toAbsolutePath();
        tool = bin.resolve("blktap_cbtlog");
        run(List.of(Peers.require("gcc", "gcc"), "-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror", "-o", tool.toString(),
                source.toString()));
    }

    @Test
    void readsALogWrittenWithBlktapsLayout() throws Exception {
        // 11 blocks (the last one partial): the bitmap is 2 bytes, shorter than one unsigned long
        Path f = dir.resolve("small.cbtlog");
        run(List.of(tool.toString(), "write", f.toString(), Long.toString(10L * B + 1), "1", "0", "9", "10"));
        assertEquals(48 + 2, Files.size(f), "sizeof(struct cbt_log_metadata) is 48 on x86-64, then ceil(11/8) bytes");
        CbtLog log = CbtLog.read(f); // the 4 padding bytes after the flag hold 0xa5: they must not matter
        assertEquals(PARENT, log.parent(), "uuid_t bytes are the UUID in RFC 4122 order");
        assertEquals(CHILD, log.child());
        assertTrue(log.consistent());
        assertEquals(10L * B + 1, log.size(), "size is the disk's size in bytes");
        assertEquals(bits(0, 9, 10), log.bits());

        // 10 GiB: bits across unsigned long words and the last block of the disk
        Path big = dir.resolve("big.cbtlog");
        long size = 10L << 30;
        run(List.of(tool.toString(), "write", big.toString(), Long.toString(size), "0", "63", "64", "65", "1000",
                Long.toString(size / B - 1)));
        CbtLog l = CbtLog.read(big);
        assertFalse(l.consistent());
        assertEquals(bits(63, 64, 65, 1000, (int) (size / B - 1)), l.bits());
    }

    @Test
    void blktapsLayoutReadsOurLogsAndTheBitsTrackingSets() throws Exception {
        Path img = dir.resolve("disk.raw");
        long size = 300L * B + 512; // 301 blocks: five bitmap words, the last one partial
        try (var raf = new java.io.RandomAccessFile(img.toFile(), "rw")) {
            raf.setLength(size);
        }
        Path logFile = dir.resolve("disk.cbtlog");
        new CbtLog(PARENT, CHILD, true, size, new BitSet()).write(logFile);
        try (BlockDevice dev = BlockDevices.loadDefault().open("file://" + img)) {
            assertTrue(dev instanceof ChangeTrackingDevice);
            dev.write(0, Buffers.direct(512).writeZero(512), false).get(30, TimeUnit.SECONDS);
            dev.write(63L * B + B - 512, Buffers.direct(1024).writeZero(1024), false).get(30, TimeUnit.SECONDS); // 63 and 64
            dev.writeZeroes(200L * B, 2L * B, false).get(30, TimeUnit.SECONDS); // 200, 201
            dev.discard(300L * B, 512, false).get(30, TimeUnit.SECONDS); // the last, partial block
            String open = run(List.of(tool.toString(), "read", logFile.toString()));
            assertTrue(open.contains("consistent 0\n"), "open: marked inconsistent on disk\n" + open);
            assertTrue(open.contains("blocks 0 63 64 200 201 300\n"),
                    "the bits are in the file while the device is open, where blktap would look:\n" + open);
        }
        String closed = run(List.of(tool.toString(), "read", logFile.toString()));
        assertEquals("header 48\n"
                + "parent 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f\n"
                + "child f0 f1 f2 f3 f4 f5 f6 f7 f8 f9 fa fb fc fd fe ff\n"
                + "consistent 1\n"
                + "size " + size + "\n"
                + "blocks 0 63 64 200 201 300\n", closed);
    }

    private static BitSet bits(int... set) {
        BitSet b = new BitSet();
        for (int i : set) {
            b.set(i);
        }
        return b;
    }

    private static String run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(new ArrayList<>(cmd)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new AssertionError(String.join(" ", cmd) + " failed:\n" + out);
        }
        return out;
    }
}
