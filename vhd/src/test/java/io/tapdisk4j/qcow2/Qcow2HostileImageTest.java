package io.tapdisk4j.qcow2;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.vhd.Cmd;
import io.tapdisk4j.vhd.VdiOperations;
import io.tapdisk4j.vhd.VhdChecker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletionException;

import static io.tapdisk4j.qcow2.Qcow2QemuInteropTest.qemuImg;
import static io.tapdisk4j.qcow2.Qcow2QemuInteropTest.qemuWrites;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Damaged and hostile qcow2 images give one clear error: a BlockDeviceException naming the problem, never
 * another exception, never an allocation sized by the image.
 */
@Timeout(120)
class Qcow2HostileImageTest {

    @TempDir
    Path dir;

    final BlockDevices devices = BlockDevices.loadDefault();
    final VdiOperations vdi = new VdiOperations(devices);

    /** A 16 MiB image (64 KiB clusters: header, refcount table, refcount block, L1, then L2 and data). */
    Path image(String name) throws Exception {
        Path p = dir.resolve(name);
        Cmd.run(qemuImg(), "create", "-f", "qcow2", p.toString(), "16M").ok();
        qemuWrites(p, "write -P 0x33 0 64k", "write -P 0x34 5M 64k");
        return p;
    }

    static void patch(Path p, long at, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(bytes), at);
        }
    }

    static void patchLong(Path p, long at, long v) throws IOException {
        patch(p, at, ByteBuffer.allocate(8).putLong(0, v).array());
    }

    static void patchInt(Path p, long at, int v) throws IOException {
        patch(p, at, ByteBuffer.allocate(4).putInt(0, v).array());
    }

    static long readLong(Path p, long at) throws IOException {
        return ByteBuffer.wrap(Files.readAllBytes(p)).getLong((int) at);
    }

    /** Opening, or reading everything, fails with a BlockDeviceException whose message holds {@code expected}. */
    void refused(Path p, String expected) {
        BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> {
            try (BlockDevice d = devices.open("file://" + p, OpenOptions.readOnlyOptions().withFormat("qcow2"))) {
                for (long off = 0; off < d.size(); off += 1 << 20) {
                    try {
                        ByteBuf b = d.read(off, (int) Math.min(1 << 20, d.size() - off)).join();
                        b.release();
                    } catch (CompletionException c) {
                        throw assertInstanceOf(BlockDeviceException.class, c.getCause());
                    }
                }
            }
        });
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' lacks '" + expected + "'");
        VhdChecker.Result r = vdi.check("file://" + p);
        assertFalse(r.ok(), "check accepted a damaged image: " + r);
    }

    long l1(Path p) throws IOException {
        return readLong(p, 40);
    }

    @Test
    void pointersOutsideTheFileOrIntoMetadata() throws Exception {
        Path a = image("l1-out.qcow2");
        patchLong(a, l1(a), (1L << 40) | L2Entry.COPIED);
        refused(a, "outside the file");

        Path b = image("l2-into-l1.qcow2");
        long l2 = L2Entry.offset(readLong(b, l1(b)));
        patchLong(b, l2, l1(b) | L2Entry.COPIED);
        refused(b, "points into the L1 table");

        Path c = image("l2-into-header.qcow2");
        l2 = L2Entry.offset(readLong(c, l1(c)));
        patchLong(c, l2 + 8, 0 | L2Entry.COPIED | 65536L * 0); // entry 1: offset 0 would be unallocated
        patchLong(c, l2, 512 | L2Entry.COPIED);
        refused(c, "not cluster aligned");

        Path d = image("reftable-out.qcow2");
        patchLong(d, readLong(d, 48), 1L << 45);
        refused(d, "refcount block 0");

        Path e = image("l1-into-reftable.qcow2");
        patchLong(e, l1(e), readLong(e, 48) | L2Entry.COPIED);
        refused(e, "refcount table");

        Path f = image("compressed-garbage.qcow2");
        l2 = L2Entry.offset(readLong(f, l1(f)));
        patchLong(f, l2, L2Entry.COMPRESSED | (3L << 54) | (l2 + 4096)); // "compressed data" inside the L2 table
        refused(f, "compressed cluster");
    }

    @Test
    void overlappingClustersAreFoundByCheck() throws Exception {
        Path p = image("overlap.qcow2");
        long l2 = L2Entry.offset(readLong(p, l1(p)));
        long first = readLong(p, l2);
        patchLong(p, l2 + 8 * 80, first); // cluster 80 (5 MiB) now shares cluster 0's data
        VhdChecker.Result r = vdi.check("file://" + p);
        assertFalse(r.ok(), r.toString());
        assertTrue(r.problems().toString().contains("overlaps"), r.toString());
    }

    @Test
    void backingLoopsAndMissingBackingFiles() throws Exception {
        Path a = dir.resolve("a.qcow2");
        Path b = dir.resolve("b.qcow2");
        Cmd.run(qemuImg(), "create", "-f", "qcow2", b.toString(), "8M").ok();
        Cmd.run(qemuImg(), "create", "-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2", a.toString(), "8M").ok();
        Cmd.run(qemuImg(), "rebase", "-u", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", b.toString()).ok();
        refused(a, "parent loop");
        Path self = dir.resolve("self.qcow2");
        Cmd.run(qemuImg(), "create", "-f", "qcow2", self.toString(), "8M").ok();
        Cmd.run(qemuImg(), "rebase", "-u", "-f", "qcow2", "-b", "self.qcow2", "-F", "qcow2", self.toString()).ok();
        refused(self, "parent loop");
        Path orphan = dir.resolve("orphan.qcow2");
        Cmd.run(qemuImg(), "create", "-u", "-f", "qcow2", "-b", "gone.qcow2", "-F", "qcow2", orphan.toString(), "8M").ok();
        refused(orphan, "backing file");
    }

    @Test
    void badAndHugeHeaderFields() throws Exception {
        Object[][] cases = {
                {4, 5, "version 5"},
                {20, 31, "cluster size"},
                {20, 8, "cluster size"},
                {32, 1, "encrypted"},
                {36, 0x7fffffff, "too large"},
                {36, 0, "needs"},
                {56, 0x7fffffff, "refcount table"},
                {96, 9, "refcount order"},
                {100, 4096 * 1024, "header length"},
                {16, 100000, "backing file name"},
                {60, 1 << 30, "snapshot table"},
        };
        for (Object[] c : cases) {
            Path p = image("h" + c[0] + "-" + c[1] + ".qcow2");
            patchInt(p, (int) c[0], (int) c[1]);
            if ((int) c[0] == 16) {
                patchLong(p, 8, 512);
            }
            refused(p, (String) c[2]); // field at c[0]
        }
        Path size = image("size.qcow2");
        patchLong(size, 24, 1L << 62);
        refused(size, "1 PiB");
        Path neg = image("l1off.qcow2");
        patchLong(neg, 40, 12345);
        refused(neg, "L1 table offset");
        Path features = image("features.qcow2");
        patchLong(features, 72, 1L << 20);
        refused(features, "incompatible feature bit 20");
        Path datafile = image("datafile.qcow2");
        patchLong(datafile, 72, Qcow2Header.INCOMPAT_DATA_FILE);
        refused(datafile, "external data file");
        Path zstd = image("zstd.qcow2");
        patchLong(zstd, 72, Qcow2Header.INCOMPAT_COMPRESSION);
        patch(zstd, 104, new byte[]{1});
        refused(zstd, "zstd");
        Path truncated = image("truncated.qcow2");
        try (FileChannel ch = FileChannel.open(truncated, StandardOpenOption.WRITE)) {
            ch.truncate(70000);
        }
        refused(truncated, "outside the file");
        Path tiny = dir.resolve("tiny.qcow2");
        Files.write(tiny, new byte[]{'Q', 'F', 'I', (byte) 0xfb, 0, 0, 0, 3});
        BlockDeviceException e = assertThrows(BlockDeviceException.class,
                () -> devices.open("file://" + tiny, OpenOptions.readOnlyOptions().withFormat("qcow2")).close());
        assertTrue(e.getMessage().contains("too small"), e.getMessage());
    }

    @Test
    void corruptBitAndSnapshotsAllowReadingOnly() throws Exception {
        Path p = image("corrupt.qcow2");
        patchLong(p, 72, Qcow2Header.INCOMPAT_CORRUPT);
        BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> devices.open("file://" + p).close());
        assertTrue(e.getMessage().contains("marked corrupt"), e.getMessage());
        devices.open("file://" + p, OpenOptions.readOnlyOptions()).close();

        Path s = image("snap.qcow2");
        Cmd.run(qemuImg(), "snapshot", "-c", "before-upgrade", s.toString()).ok();
        e = assertThrows(BlockDeviceException.class, () -> devices.open("file://" + s).close());
        assertTrue(e.getMessage().contains("internal snapshots"), e.getMessage());
        try (BlockDevice d = devices.open("file://" + s, OpenOptions.readOnlyOptions())) {
            Qcow2Device q = assertInstanceOf(Qcow2Device.class, d);
            assertTrue(q.snapshots().getFirst().name().equals("before-upgrade"), q.snapshots().toString());
        }
        assertTrue(vdi.info("file://" + s).type().contains("before-upgrade"));
    }
}
