package io.tapdisk4j.block.cbt;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockStatus;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DeviceUri;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The log format, tracking through the registry, crash semantics and bad log files. */
@Timeout(60)
class ChangeTrackingTest {

    private static final int B = CbtLog.BLOCK_SIZE;

    @TempDir
    Path dir;

    private DeviceUri image(long size) throws Exception {
        DeviceUri uri = DeviceUri.parse("file://" + dir.resolve("disk.raw"));
        BlockDevices.loadDefault().create(uri, size, "raw").close();
        return uri;
    }

    private static ByteBuf data(int n) {
        return Buffers.direct(n).writeBytes(new byte[n]);
    }

    @Test
    void logLayoutIsBlktapsCbtLogMetadata() throws Exception {
        UUID parent = UUID.fromString("00112233-4455-6677-8899-aabbccddeeff");
        BitSet bits = new BitSet();
        bits.set(0);
        bits.set(9);
        Path f = dir.resolve("x.cbtlog");
        new CbtLog(parent, CbtLog.NIL, true, 10L * B + 1, bits).write(f);
        byte[] raw = Files.readAllBytes(f);
        assertEquals(48 + 2, raw.length, "11 blocks need 2 bitmap bytes after the 48-byte header");
        assertEquals(0x00, raw[0]);
        assertEquals((byte) 0xff, raw[15]);
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(1, b.getInt(32));
        assertEquals(10L * B + 1, b.getLong(40));
        assertEquals(0x01, raw[48]);
        assertEquals(0x02, raw[49], "bit 9 is byte 1, mask 1 << 1");
        CbtLog back = CbtLog.read(f);
        assertEquals(parent, back.parent());
        assertEquals(bits, back.bits());
    }

    @Test
    void writesZeroesAndDiscardsMarkExactlyTheirBlocks() throws Exception {
        DeviceUri uri = image(64L * B);
        assertTrue(CbtLogs.enable(uri, 64L * B));
        try (BlockDevice d = BlockDevices.loadDefault().open(uri.text())) {
            assertInstanceOf(ChangeTrackingDevice.class, d);
            d.write(B - 512, data(1024), false).get(10, TimeUnit.SECONDS);     // blocks 0 and 1
            d.write(5L * B, data(B), false).get(10, TimeUnit.SECONDS);         // block 5 only
            d.writeZeroes(63L * B + 7, 1, false).get(10, TimeUnit.SECONDS);    // block 63
            d.discard(20L * B, 3L * B, false).exceptionally(t -> null).get(10, TimeUnit.SECONDS); // 20..22
            d.flush().get(10, TimeUnit.SECONDS);
            assertFalse(CbtLog.read(CbtLogs.logPath(uri)).consistent(), "a log being tracked into is inconsistent on disk");
            List<BlockStatus> st = d.dirtyBitmaps().getFirst().status(0, 8L * B);
            assertEquals(List.of(new BlockStatus(0, 2L * B, 1), new BlockStatus(2L * B, 3L * B, 0),
                    new BlockStatus(5L * B, B, 1), new BlockStatus(6L * B, 2L * B, 0)), st);
        }
        CbtLog log = CbtLog.read(CbtLogs.logPath(uri));
        assertTrue(log.consistent(), "a clean close restores the flag");
        BitSet want = new BitSet();
        want.set(0, 2);
        want.set(5);
        want.set(20, 23);
        want.set(63);
        assertEquals(want, log.bits());
    }

    @Test
    void readOnlyOpensAndImagesWithoutALogAreNotTracked() throws Exception {
        DeviceUri uri = image(4L * B);
        try (BlockDevice d = BlockDevices.loadDefault().open(uri.text())) {
            assertFalse(d instanceof ChangeTrackingDevice);
        }
        CbtLogs.enable(uri, 4L * B);
        try (BlockDevice d = BlockDevices.loadDefault().open(uri.text(), io.tapdisk4j.block.OpenOptions.readOnlyOptions())) {
            assertFalse(d instanceof ChangeTrackingDevice);
        }
    }

    @Test
    void snapshotFreezesTheLogAndChangedUnitesTheLogsAfterBase() throws Exception {
        DeviceUri leaf = image(16L * B);
        CbtLogs.enable(leaf, 16L * B);
        DeviceUri p1 = DeviceUri.parse("file://" + dir.resolve("p1.raw"));
        DeviceUri p2 = DeviceUri.parse("file://" + dir.resolve("p2.raw"));
        write(leaf, 0);
        CbtLogs.afterSnapshot(leaf, p1, CbtLogs.beforeSnapshot(leaf), 16L * B);
        write(leaf, 3L * B);
        CbtLogs.afterSnapshot(leaf, p2, CbtLogs.beforeSnapshot(leaf), 16L * B);
        write(leaf, 7L * B);
        BitSet between = CbtLogs.changed(List.of(p2, p1));
        assertEquals(BitSet.valueOf(new long[]{1L << 3}), between);
        BitSet sinceP1 = CbtLogs.changed(List.of(leaf, p2, p1));
        assertEquals(BitSet.valueOf(new long[]{(1L << 3) | (1L << 7)}), sinceP1);
        assertThrows(BlockDeviceException.class, () -> CbtLogs.changed(List.of(p1, p2)), "logs out of order");
    }

    private static void write(DeviceUri uri, long at) throws Exception {
        try (BlockDevice d = BlockDevices.loadDefault().open(uri.text())) {
            d.write(at, data(4096), false).get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aLogLeftOpenIsInconsistentAndChangedRefusesIt() throws Exception {
        DeviceUri leaf = image(4L * B);
        CbtLogs.enable(leaf, 4L * B);
        DeviceUri p1 = DeviceUri.parse("file://" + dir.resolve("p1.raw"));
        CbtLogs.afterSnapshot(leaf, p1, CbtLogs.beforeSnapshot(leaf), 4L * B);
        BlockDevice d = BlockDevices.loadDefault().open(leaf.text()); // never closed: as after SIGKILL
        d.write(0, data(512), false).get(10, TimeUnit.SECONDS);
        CbtLog onDisk = CbtLog.read(CbtLogs.logPath(leaf));
        assertFalse(onDisk.consistent());
        assertTrue(onDisk.bits().get(0), "the bit reached the file before the write was acknowledged");
        assertThrows(CbtLogs.InconsistentLogException.class, () -> CbtLogs.changed(List.of(leaf, p1)));
        d.close();
    }

    @Test
    void truncatedOrHostileLogsGiveClearErrors() throws Exception {
        DeviceUri uri = image(32L * B);
        Path log = CbtLogs.logPath(uri);
        CbtLog.empty(CbtLog.NIL, 32L * B).write(log);
        byte[] good = Files.readAllBytes(log);

        Files.write(log, java.util.Arrays.copyOf(good, 20));
        assertMessage(uri, "shorter than its 48-byte header");
        Files.write(log, java.util.Arrays.copyOf(good, 49));
        assertMessage(uri, "(truncated)");
        Files.write(log, java.util.Arrays.copyOf(good, good.length + 5));
        assertMessage(uri, "(trailing bytes)");
        byte[] flag = good.clone();
        flag[32] = 7;
        Files.write(log, flag);
        assertMessage(uri, "consistency flag 7");
        byte[] size = good.clone();
        ByteBuffer.wrap(size).order(ByteOrder.LITTLE_ENDIAN).putLong(40, -1);
        Files.write(log, size);
        assertMessage(uri, "disk of -1 bytes");
        byte[] other = good.clone();
        ByteBuffer.wrap(other).order(ByteOrder.LITTLE_ENDIAN).putLong(40, 8L * B);
        Files.write(log, java.util.Arrays.copyOf(other, 48 + 1));
        assertMessage(uri, "covers " + 8L * B + " bytes");
        assertArrayEquals(java.util.Arrays.copyOf(other, 49), Files.readAllBytes(log), "a refused log is left as it was");
    }

    private static void assertMessage(DeviceUri uri, String part) {
        BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> BlockDevices.loadDefault().open(uri.text()).close());
        assertTrue(e.getMessage().contains(part), e.getMessage());
        assertTrue(e.getMessage().contains(".cbtlog"), e.getMessage());
    }
}
