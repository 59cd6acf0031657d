package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Damaged and hostile images give one clear error (never another exception, never a huge allocation). */
class VhdHostileImageTest {

    @TempDir
    Path dir;

    final BlockDevices devices = BlockDevices.loadDefault();
    final VdiOperations vdi = new VdiOperations(devices);

    Path image(String name) throws Exception {
        Path p = dir.resolve(name);
        vdi.create("file://" + p, 16 << 20, "vhd", false);
        try (BlockDevice d = devices.open("file://" + p)) {
            Disks.write(d, 0, new byte[4096]);
            Disks.write(d, 5 << 20, new byte[4096]);
        }
        return p;
    }

    /** Opening as VHD fails with a BlockDeviceException whose message contains {@code expected}. */
    BlockDeviceException refused(Path p, String expected) {
        BlockDeviceException e = refusedAsVhd(p, expected);
        VhdChecker.Result r = vdi.check("file://" + p);
        assertFalse(r.ok(), "check accepted a damaged image: " + r);
        return e;
    }

    /** For storage with no VHD footer at all, which check (rightly) takes for a raw image. */
    BlockDeviceException refusedAsVhd(Path p, String expected) {
        BlockDeviceException e = assertThrows(BlockDeviceException.class,
                () -> devices.open(DeviceUri.parse("file://" + p), OpenOptions.DEFAULT.withFormat("vhd")).close());
        assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' lacks '" + expected + "'");
        return e;
    }

    static void patch(Path p, long at, byte[] bytes) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.seek(at < 0 ? f.length() + at : at);
            f.write(bytes);
        }
    }

    static byte[] readAt(Path p, long at, int n) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "r")) {
            byte[] b = new byte[n];
            f.seek(at < 0 ? f.length() + at : at);
            f.readFully(b);
            return b;
        }
    }

    /** Rewrites a field of both footers (copy at 0 and at the end) with a correct checksum. */
    static void patchFooters(Path p, int field, byte[] value) throws IOException {
        for (long at : new long[]{0, -512}) {
            byte[] f = readAt(p, at, 512);
            System.arraycopy(value, 0, f, field, value.length);
            ByteBuffer.wrap(f).putInt(64, VhdChecksum.compute(f, 0, 512, 64));
            patch(p, at, f);
        }
    }

    static void patchHeader(Path p, int field, byte[] value) throws IOException {
        byte[] h = readAt(p, 512, 1024);
        System.arraycopy(value, 0, h, field, value.length);
        ByteBuffer.wrap(h).putInt(36, VhdChecksum.compute(h, 0, 1024, 36));
        patch(p, 512, h);
    }

    static byte[] be32(int v) {
        return ByteBuffer.allocate(4).putInt(v).array();
    }

    static byte[] be64(long v) {
        return ByteBuffer.allocate(8).putLong(v).array();
    }

    @Test
    void corruptFooters() throws Exception {
        Path p = image("cookie.vhd");
        patch(p, 0, "garbage!".getBytes());
        patch(p, -512, "garbage!".getBytes());
        refusedAsVhd(p, "not a VHD");
        try (BlockDevice d = devices.open("file://" + p)) {
            assertFalse(d instanceof VhdDevice, "without a footer the probe says raw");
        }
        Path c = image("checksum.vhd");
        patch(c, 30, new byte[]{0x55});
        patch(c, -512 + 30, new byte[]{0x55});
        refused(c, "checksum mismatch");
        Path h = image("header.vhd");
        patch(h, 512 + 100, new byte[]{1, 2, 3});
        refused(h, "dynamic header checksum mismatch");
        Path t = image("truncated.vhd");
        try (RandomAccessFile f = new RandomAccessFile(t.toFile(), "rw")) {
            f.setLength(1000);
        }
        refused(t, "outside the file");
        Path tiny = dir.resolve("tiny.vhd");
        Files.write(tiny, new byte[100]);
        refusedAsVhd(tiny, "too small");
    }

    @Test
    void oneDamagedFooterIsSurvivable() throws Exception {
        Path p = image("one.vhd");
        patch(p, -512 + 30, new byte[]{0x55});
        try (BlockDevice d = devices.open("file://" + p)) {
            assertInstanceOf(VhdDevice.class, d);
        }
        // the writable open rewrote the end from the copy
        assertTrue(vdi.check("file://" + p).ok());
        assertTrue(vdi.check("file://" + p).warnings().isEmpty(), vdi.check("file://" + p).toString());
    }

    @Test
    void batEntriesOutsideOrOverlapping() throws Exception {
        Path out = image("outside.vhd");
        patch(out, 1536, be32(0x7fff_0000));
        refused(out, "points outside the file");
        Path over = image("overlap.vhd");
        byte[] first = readAt(over, 1536, 4);
        patch(over, 1536 + 4 * 7, first);
        refused(over, "overlap");
        Path meta = image("meta.vhd");
        patch(meta, 1536, be32(1));
        refused(meta, "overlaps the VHD metadata");
        Path beyond = image("beyond.vhd");
        byte[] bat = readAt(beyond, 1536, 4);
        patchHeader(beyond, 28, be32(9)); // 9 entries for an 8-block disk is allowed…
        patch(beyond, 1536 + 4 * 8, bat); // …but not allocated past the disk's end
        refused(beyond, "beyond the end of the virtual disk");
    }

    @Test
    void hugeSizesAreRefusedWithoutAllocating() throws Exception {
        Path size = image("size.vhd");
        patchFooters(size, 48, be64(1L << 60));
        BlockDeviceException e = refused(size, "2040 GiB");
        assertEquals(BlockError.EFBIG, e.error());
        Path entries = image("entries.vhd");
        patchHeader(entries, 28, be32(0x7fff_ffff));
        refused(entries, "entries");
        Path block = image("block.vhd");
        patchHeader(block, 32, be32(0));
        refused(block, "block size");
        Path table = image("table.vhd");
        patchHeader(table, 16, be64(Long.MAX_VALUE / 512 * 512));
        refused(table, "BAT offset");
        BlockDeviceException tooBig = assertThrows(BlockDeviceException.class,
                () -> vdi.create("file://" + dir.resolve("big.vhd"), 2041L << 30, "vhd", false));
        assertTrue(tooBig.getMessage().contains("2040 GiB"), tooBig.getMessage());
        assertFalse(Files.exists(dir.resolve("big.vhd")), "nothing created");
    }

    @Test
    void parentLoopsAndMissingParents() throws Exception {
        Path a = image("a.vhd");
        byte[] aUuid = readAt(a, 68, 16);
        String b = "file://" + dir.resolve("b.vhd");
        vdi.clone("file://" + a, b);
        String c = "file://" + dir.resolve("c.vhd");
        vdi.clone(b, c);
        // a becomes a copy of c (a child of b) that carries a's identity: a -> b -> a
        a.toFile().setWritable(true);
        Files.copy(dir.resolve("c.vhd"), a, StandardCopyOption.REPLACE_EXISTING);
        patchFooters(a, 68, aUuid);
        BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> devices.open(b).close());
        assertTrue(e.getMessage().contains("loop"), e.getMessage());
        assertFalse(vdi.check(b).ok());

        Path x = image("x.vhd");
        String y = "file://" + dir.resolve("y.vhd");
        vdi.clone("file://" + x, y);
        x.toFile().setWritable(true);
        Files.delete(x);
        BlockDeviceException missing = assertThrows(BlockDeviceException.class, () -> devices.open(y).close());
        assertTrue(missing.getMessage().contains("parent not found"), missing.getMessage());
        assertFalse(vdi.check(y).ok());
        image("x.vhd"); // a different image under the parent's name: its unique id does not match
        BlockDeviceException other = assertThrows(BlockDeviceException.class, () -> devices.open(y).close());
        assertTrue(other.getMessage().contains("expected"), other.getMessage());
    }

    @Test
    void aFixedDiskWhoseGuestDataLooksLikeAVhdStaysFixed() throws Exception {
        Path dynamic = image("inner.vhd");
        byte[] footer = readAt(dynamic, 0, 512);
        String fixed = "file://" + dir.resolve("fixed.vhd");
        vdi.create(fixed, 4 << 20, "vhd", true);
        try (BlockDevice d = devices.open(fixed)) {
            Disks.write(d, 0, footer); // the guest writes a dynamic VHD's footer into its first sector
        }
        try (BlockDevice d = devices.open(fixed)) {
            VhdDevice v = assertInstanceOf(VhdDevice.class, d);
            assertEquals(DiskType.FIXED, v.diskType());
            assertEquals(4 << 20, d.size());
        }
        assertTrue(vdi.check(fixed).ok());
    }
}
