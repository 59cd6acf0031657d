package io.tapdisk4j.block;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The file:, memory: and null: devices through the registry, as every frontend reaches them. */
class LocalDevicesTest {

    @TempDir
    Path dir;

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    // Bulk writes only: under PARANOID leak detection every ByteBuf call records a stack trace.
    private static ByteBuf pattern(int length, int seed) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (i * 31 + seed);
        }
        return Buffers.direct(length).writeBytes(bytes);
    }

    private BlockDevice open(String kind) throws IOException {
        BlockDevices devices = BlockDevices.loadDefault();
        return switch (kind) {
            case "file" -> devices.create(DeviceUri.parse("file://" + dir.resolve("disk.raw")), 8 << 20, "raw");
            case "file-direct" -> {
                devices.create(DeviceUri.parse("file://" + dir.resolve("d.raw")), 8 << 20, "raw").close();
                yield devices.open("file://" + dir.resolve("d.raw") + "?direct=1");
            }
            default -> devices.open("memory:?size=8M");
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "file-direct", "memory"})
    void writesReadBackAndUnwrittenReadsAsZero(String kind) throws Exception {
        try (BlockDevice dev = open(kind)) {
            assertEquals(8 << 20, dev.size());
            ByteBuf data = pattern(65536, 7);
            byte[] expected = ByteBufUtil.getBytes(data);
            await(dev.write(4096, data, false));
            assertEquals(0, data.refCnt(), "the device releases the written buffer");
            ByteBuf back = await(dev.read(4096, 65536));
            try {
                assertArrayEquals(expected, ByteBufUtil.getBytes(back));
            } finally {
                back.release();
            }
            // unaligned, crossing a 64 KiB chunk boundary
            ByteBuf odd = pattern(1000, 3);
            byte[] oddBytes = ByteBufUtil.getBytes(odd);
            await(dev.write(65536 - 300, odd, true));
            ByteBuf oddBack = await(dev.read(65536 - 300, 1000));
            try {
                assertArrayEquals(oddBytes, ByteBufUtil.getBytes(oddBack));
            } finally {
                oddBack.release();
            }
            ByteBuf zero = await(dev.read(4 << 20, 512));
            try {
                assertArrayEquals(new byte[512], ByteBufUtil.getBytes(zero));
            } finally {
                zero.release();
            }
            await(dev.flush());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "memory"})
    void refusesRequestsBeyondTheEndWithoutLeaking(String kind) throws Exception {
        try (BlockDevice dev = open(kind)) {
            ByteBuf data = pattern(4096, 1);
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> dev.write(dev.size() - 512, data, false).get(10, TimeUnit.SECONDS));
            assertEquals(BlockError.EINVAL, BlockDeviceException.errorOf(e));
            assertEquals(0, data.refCnt());
            assertEquals(BlockError.EOVERFLOW, BlockDeviceException.errorOf(assertThrows(ExecutionException.class,
                    () -> dev.read(Long.MAX_VALUE - 10, 512).get(10, TimeUnit.SECONDS))));
            assertEquals(BlockError.EINVAL, BlockDeviceException.errorOf(assertThrows(ExecutionException.class,
                    () -> dev.read(-1, 512).get(10, TimeUnit.SECONDS))));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "memory"})
    void discardAndWriteZeroesPunchHolesTheAllocationMapSees(String kind) throws Exception {
        try (BlockDevice dev = open(kind)) {
            assertTrue(await(dev.allocation(0, dev.size())).stream().allMatch(Extent::hole));
            await(dev.write(1 << 20, pattern(1 << 20, 5), false));
            await(dev.flush());
            List<Extent> map = await(dev.allocation(0, dev.size()));
            assertCovers(map, 0, dev.size());
            assertTrue(map.stream().anyMatch(x -> !x.hole() && x.offset() <= (1 << 20) && x.end() >= (2 << 20)), map::toString);
            await(dev.discard(1 << 20, 512 << 10, false));
            await(dev.writeZeroes((1 << 20) + (512 << 10), 512 << 10, false));
            ByteBuf back = await(dev.read(1 << 20, 1 << 20));
            try {
                assertArrayEquals(new byte[1 << 20], ByteBufUtil.getBytes(back));
            } finally {
                back.release();
            }
            List<Extent> after = await(dev.allocation(1 << 20, 512 << 10));
            assertTrue(after.stream().allMatch(Extent::hole), after::toString);
        }
    }

    private static void assertCovers(List<Extent> map, long offset, long length) {
        long pos = offset;
        for (Extent e : map) {
            assertEquals(pos, e.offset(), "extents are contiguous: " + map);
            pos = e.end();
        }
        assertEquals(offset + length, pos, "extents cover the range: " + map);
    }

    @ParameterizedTest
    @ValueSource(strings = {"file", "file-direct", "memory"})
    void writesCompositeBuffersOfSeveralPieces(String kind) throws Exception {
        try (BlockDevice dev = open(kind)) {
            ByteBuf a = pattern(4096, 1);
            ByteBuf b = pattern(4096, 2);
            ByteBuf c = pattern(512, 3);
            byte[] expected = new byte[4096 + 4096 + 512];
            a.getBytes(0, expected, 0, 4096);
            b.getBytes(0, expected, 4096, 4096);
            c.getBytes(0, expected, 8192, 512);
            io.netty.buffer.CompositeByteBuf composite = Buffers.allocator().compositeDirectBuffer(3);
            composite.addComponents(true, a, b, c);
            await(dev.write(8192, composite, false));
            assertEquals(0, composite.refCnt());
            ByteBuf back = await(dev.read(8192, expected.length));
            try {
                assertArrayEquals(expected, ByteBufUtil.getBytes(back));
            } finally {
                back.release();
            }
        }
    }

    @Test
    void fileDeviceResizesAndReadOnlyRefusesWrites() throws Exception {
        Path p = dir.resolve("r.raw");
        BlockDevices devices = BlockDevices.loadDefault();
        try (BlockDevice dev = devices.create(DeviceUri.parse("file://" + p), 1 << 20, null)) {
            await(dev.resize(3 << 20));
            assertEquals(3 << 20, dev.size());
        }
        assertEquals(3 << 20, Files.size(p));
        try (BlockDevice ro = devices.open("file://" + p, OpenOptions.readOnlyOptions())) {
            assertTrue(ro.has(Capability.READ_ONLY));
            ByteBuf data = pattern(512, 0);
            assertEquals(BlockError.EROFS, BlockDeviceException.errorOf(assertThrows(ExecutionException.class,
                    () -> ro.write(0, data, false).get(10, TimeUnit.SECONDS))));
            assertEquals(0, data.refCnt());
        }
    }

    /**
     * tmpfs has no FALLOC_FL_ZERO_RANGE: write-zeroes that keeps the space (what a qcow2 image reserves its new
     * clusters with) punches and allocates again there, and the range reads as zeroes, stays allocated and
     * leaves the bytes around it alone.
     */
    @Test
    void writeZeroesWithoutUnmapKeepsSpaceOnTmpfs() throws Exception {
        Path shm = Path.of("/dev/shm");
        assertEquals("tmpfs", Files.getFileStore(shm).type(), "this test needs /dev/shm on tmpfs");
        Path p = Files.createTempFile(shm, "zero-range-", ".raw");
        try {
            Files.delete(p);
            BlockDevices devices = BlockDevices.loadDefault();
            try (BlockDevice dev = devices.create(DeviceUri.parse("file://" + p), 4 << 20, "raw")) {
                await(dev.write(0, pattern(4 << 20, 7), false));
                await(dev.writeZeroes(1 << 20, 2 << 20, false));
                ByteBuf all = await(dev.read(0, 4 << 20));
                try {
                    byte[] got = ByteBufUtil.getBytes(all);
                    ByteBuf model = pattern(4 << 20, 7);
                    byte[] want = ByteBufUtil.getBytes(model);
                    model.release();
                    java.util.Arrays.fill(want, 1 << 20, 3 << 20, (byte) 0);
                    assertArrayEquals(want, got);
                } finally {
                    all.release();
                }
                await(dev.flush());
            }
            // Every 512-byte block still allocated (tmpfs reports the allocated but unwritten pages as a hole to
            // SEEK_DATA, so the allocation map cannot tell; st_blocks can).
            assertEquals(4 << 20, io.tapdisk4j.testsupport.AllocatedBytes.of(p), "allocated bytes after write-zeroes");
        } finally {
            Files.deleteIfExists(p);
        }
    }

    @Test
    void createRefusesToOverwriteAndOpenReportsMissingFiles() throws Exception {
        Path p = dir.resolve("exists.raw");
        Files.write(p, new byte[4096]);
        BlockDevices devices = BlockDevices.loadDefault();
        assertThrows(BlockDeviceException.class, () -> devices.create(DeviceUri.parse("file://" + p), 1 << 20, "raw"));
        assertEquals(4096, Files.size(p));
        BlockDeviceException missing = assertThrows(BlockDeviceException.class,
                () -> devices.open("file://" + dir.resolve("missing.raw")));
        assertTrue(missing.getMessage().contains("missing.raw"), missing.getMessage());
        assertThrows(BlockDeviceException.class, () -> devices.open("file:relative.raw"));
    }

    @Test
    void registryNamesUnknownSchemesAndFormats() {
        BlockDevices devices = BlockDevices.loadDefault();
        assertTrue(devices.schemes().containsAll(List.of("file", "memory", "null")));
        BlockDeviceException e = assertThrows(BlockDeviceException.class, () -> devices.open("gopher://x/y"));
        assertEquals(BlockError.ENOTSUP, e.error());
        assertTrue(e.getMessage().contains("gopher"));
        assertThrows(BlockDeviceException.class, () -> devices.open("memory:?size=1M&format=qcow9"));
    }

    @Test
    void namedMemoryDisksAreSharedWithinTheProcess() throws Exception {
        BlockDevices devices = BlockDevices.loadDefault();
        try (BlockDevice a = devices.open("memory:shared-test?size=1M");
             BlockDevice b = devices.open("memory:shared-test?size=1M")) {
            await(a.write(0, pattern(512, 9), false));
            ByteBuf back = await(b.read(0, 512));
            try {
                assertEquals((byte) 9, back.getByte(0));
            } finally {
                back.release();
            }
        }
    }

    @Test
    void nullDeviceReadsZeroesAndSwallowsWrites() throws Exception {
        try (BlockDevice dev = BlockDevices.loadDefault().open("null:?size=1G")) {
            assertEquals(1L << 30, dev.size());
            ByteBuf data = pattern(4096, 1);
            await(dev.write(0, data, true));
            assertEquals(0, data.refCnt());
            ByteBuf back = await(dev.read(0, 4096));
            try {
                assertArrayEquals(new byte[4096], ByteBufUtil.getBytes(back));
            } finally {
                back.release();
            }
            assertFalse(await(dev.allocation(0, 4096)).isEmpty());
            assertInstanceOf(io.tapdisk4j.block.local.NullDevice.class, dev);
        }
    }

    @Test
    void nullDeviceReadsAreSharedReadOnlyZeroesThatNoCallerCanDirty() throws Exception {
        try (BlockDevice dev = BlockDevices.loadDefault().open("null:?size=1G")) {
            ByteBuf first = await(dev.read(0, 65536));
            assertTrue(first.isDirect(), "dom0 buffers are direct");
            assertThrows(java.nio.ReadOnlyBufferException.class, () -> first.setByte(0, 1));
            first.release();
            first.release(); // releasing a view of the shared zeroes twice harms no later reader
            ByteBuf again = await(dev.read(4096, 65536));
            ByteBuf huge = await(dev.read(0, 8 << 20)); // beyond the shared buffer: a buffer of its own
            try {
                assertArrayEquals(new byte[65536], ByteBufUtil.getBytes(again));
                assertEquals(8 << 20, huge.readableBytes());
                assertArrayEquals(new byte[8 << 20], ByteBufUtil.getBytes(huge));
            } finally {
                again.release();
                huge.release();
            }
        }
    }
}
