package io.tapdisk4j.iscsi.device;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.iscsi.login.SessionParameters;
import io.tapdisk4j.iscsi.scsi.Cdb;
import io.tapdisk4j.iscsi.scsi.ReportLuns;
import io.tapdisk4j.iscsi.scsi.VpdPages;
import io.tapdisk4j.iscsi.session.ScsiCommand;
import io.tapdisk4j.iscsi.session.ScsiCommandException;
import io.tapdisk4j.iscsi.session.ScsiResult;
import io.tapdisk4j.iscsi.session.SessionConfig;
import io.tapdisk4j.testsupport.peers.Tgtd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The iscsi:// device against a real tgtd: I/O of every size around the negotiated limits, checked in the backing file. */
class IscsiBlockDeviceTest {

    static final long SIZE = 64L << 20;

    @TempDir
    static Path dir;
    static Tgtd tgtd;
    static Tgtd thin;
    static Path disk;
    static Path thinDisk;

    @BeforeAll
    static void start() throws Exception {
        disk = dir.resolve("disk.raw");
        thinDisk = dir.resolve("thin.raw");
        for (Path p : List.of(disk, thinDisk)) {
            try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
                f.setLength(SIZE);
            }
        }
        tgtd = Tgtd.start(dir.resolve("tgtd")).targetWithLun(disk).allowDigests();
        thin = Tgtd.start(dir.resolve("thin")).targetWithLun(thinDisk, "thin_provisioning=1");
    }

    @AfterAll
    static void stop() {
        if (tgtd != null) {
            tgtd.close();
        }
        if (thin != null) {
            thin.close();
        }
    }

    static byte[] fileBytes(Path file, long offset, int length) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            byte[] b = new byte[length];
            f.seek(offset);
            f.readFully(b);
            return b;
        }
    }

    static byte[] bytes(ByteBuf b) {
        byte[] a = new byte[b.readableBytes()];
        b.getBytes(b.readerIndex(), a);
        return a;
    }

    static ByteBuf buffer(byte[] data) {
        ByteBuf b = Buffers.direct(data.length);
        b.writeBytes(data);
        return b;
    }

    static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(60, TimeUnit.SECONDS);
    }

    private static void writeReadCheck(BlockDevice d, long offset, int length, long seed) throws Exception {
        byte[] data = new byte[length];
        new Random(seed).nextBytes(data);
        get(d.write(offset, buffer(data), false));
        ByteBuf back = get(d.read(offset, length));
        try {
            assertArrayEquals(data, bytes(back), "read back " + length + " bytes at " + offset);
        } finally {
            back.release();
        }
        assertArrayEquals(data, fileBytes(disk, offset, length), "backing file, " + length + " bytes at " + offset);
    }

    @Test
    void opensThroughTheProviderRegistry() throws Exception {
        try (BlockDevice d = BlockDevices.loadDefault().openTransport(DeviceUri.parse(tgtd.lunUrl(null, 1)), OpenOptions.DEFAULT)) {
            assertInstanceOf(IscsiBlockDevice.class, d);
            assertEquals(SIZE, d.size());
            assertEquals(512, d.logicalBlockSize());
            assertTrue(d.has(Capability.FLUSH));
            assertTrue(d.describe().contains(Tgtd.IQN), d.describe());
        }
    }

    /**
     * Sizes from one block to well past tgt's MaxBurstLength and FirstBurstLength and our 8 MiB command
     * limit, under three negotiations: immediate + unsolicited data, R2T only, and CRC32C digests.
     */
    @ParameterizedTest
    @ValueSource(strings = {"immediate", "r2t-only", "digests"})
    void everySizeUpToAndBeyondTheBurstLengths(String mode) throws Exception {
        IscsiUrl url = IscsiUrl.parse(DeviceUri.parse(tgtd.lunUrl(null, 1)));
        SessionConfig config = url.sessionConfig();
        config = switch (mode) {
            case "r2t-only" -> config.withLogin(config.login().withBursts(65536, 262144, 65536, false, true));
            case "digests" -> config.withLogin(config.login().withDigests(true, true));
            default -> config;
        };
        try (IscsiBlockDevice d = IscsiBlockDevice.open(url, config, false)) {
            SessionParameters p = d.session().parameters();
            assertEquals(mode.equals("digests"), p.headerDigest() && p.dataDigest(), p.toString());
            if (mode.equals("r2t-only")) {
                assertFalse(p.immediateData(), p.toString());
                assertTrue(p.initialR2T(), p.toString());
            }
            int burst = p.maxBurstLength();
            int first = p.firstBurstLength();
            int seg = p.maxXmitDataSegmentLength();
            int[] sizes = {512, 4096, seg - 512, seg, seg + 512, first - 512, first, first + 512, 3 * seg + 1024,
                    burst - 512, burst, burst + 512, 2 * burst + 4096, 1 << 20, 8 << 20, (8 << 20) + 512, 9 << 20};
            long offset = 0;
            long seed = mode.hashCode();
            for (int size : sizes) {
                if (size <= 0) {
                    continue;
                }
                writeReadCheck(d, offset, size, seed++);
                offset += size + 512L * 7;
            }
            writeReadCheck(d, SIZE - 4096, 4096, seed);
        }
    }

    @Test
    void manyCommandsInFlight() throws Exception {
        try (BlockDevice d = BlockDevices.loadDefault().openTransport(DeviceUri.parse(tgtd.lunUrl(null, 1)), OpenOptions.DEFAULT)) {
            int n = 200;
            int size = 16384;
            long base = 32L << 20;
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            byte[][] data = new byte[n][size];
            Random r = new Random(7);
            for (int i = 0; i < n; i++) {
                r.nextBytes(data[i]);
                writes.add(d.write(base + (long) i * size, buffer(data[i]), i % 3 == 0));
            }
            get(CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)));
            get(d.flush());
            List<CompletableFuture<ByteBuf>> reads = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                reads.add(d.read(base + (long) i * size, size));
            }
            for (int i = 0; i < n; i++) {
                ByteBuf b = get(reads.get(i));
                try {
                    assertArrayEquals(data[i], bytes(b), "block " + i);
                } finally {
                    b.release();
                }
                assertArrayEquals(data[i], fileBytes(disk, base + (long) i * size, size));
            }
        }
    }

    /**
     * A steady stream of reads of mixed sizes, 32 in flight, each next one issued as one completes: the pattern
     * under which the session coalesces wake-ups (the socket waits for two PDUs). Every read must still come
     * back, with its own bytes.
     */
    @Test
    void streamOfMixedReadsWithReceiveCoalescing() throws Exception {
        long base = 40L << 20;
        int region = 8 << 20;
        byte[] pattern = new byte[region];
        new Random(11).nextBytes(pattern);
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.seek(base);
            f.write(pattern);
        }
        int[] sizes = {4096, 131072, 512, 65536, 262144, 8192, 1 << 20};
        try (BlockDevice d = BlockDevices.loadDefault().openTransport(DeviceUri.parse(tgtd.lunUrl(null, 1)), OpenOptions.DEFAULT)) {
            int total = 3000;
            java.util.concurrent.atomic.AtomicInteger issued = new java.util.concurrent.atomic.AtomicInteger();
            java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
            CompletableFuture<Void> finished = new CompletableFuture<>();
            Runnable[] next = new Runnable[1];
            next[0] = () -> {
                int i = issued.getAndIncrement();
                if (i >= total) {
                    return;
                }
                int length = sizes[i % sizes.length];
                int offset = (int) (((long) i * 7919 * 512) % (region - length)) & ~511;
                d.read(base + offset, length).whenComplete((b, err) -> {
                    if (err != null) {
                        finished.completeExceptionally(err);
                        return;
                    }
                    try {
                        byte[] want = java.util.Arrays.copyOfRange(pattern, offset, offset + length);
                        if (!java.util.Arrays.equals(want, bytes(b))) {
                            finished.completeExceptionally(new AssertionError("read " + i + ": " + length
                                    + " bytes at " + offset + " came back wrong"));
                            return;
                        }
                    } finally {
                        b.release();
                    }
                    if (done.incrementAndGet() == total) {
                        finished.complete(null);
                    } else {
                        next[0].run();
                    }
                });
            };
            for (int i = 0; i < 32; i++) {
                next[0].run();
            }
            get(finished);
            assertEquals(total, done.get());
        }
    }

    @Test
    void badRequestsGetClearErrors() throws Exception {
        try (BlockDevice d = BlockDevices.loadDefault().openTransport(DeviceUri.parse(tgtd.lunUrl(null, 1)), OpenOptions.DEFAULT)) {
            assertError(BlockError.EINVAL, d.read(SIZE - 512, 1024));
            assertError(BlockError.EINVAL, d.read(100, 512));
            assertError(BlockError.EINVAL, d.write(0, Buffers.zeroes(100), false));
            assertError(BlockError.EOVERFLOW, d.read(Long.MAX_VALUE - 10, 512));
        }
    }

    private static void assertError(BlockError expected, CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
        assertEquals(expected, BlockDeviceException.errorOf(e), e.getCause().getMessage());
    }

    /** The target's own CHECK CONDITION: a READ(16) past the last LBA, sent around the device's range check. */
    @Test
    void checkConditionFromTheTargetIsDecoded() throws Exception {
        try (IscsiBlockDevice d = (IscsiBlockDevice) BlockDevices.loadDefault().openTransport(DeviceUri.parse(tgtd.lunUrl(null, 1)),
                OpenOptions.DEFAULT)) {
            long lba = SIZE / 512 + 8;
            CompletableFuture<ScsiResult> f = d.session().execute(ScsiCommand.read(1, Cdb.read16(lba, 1, false), 512));
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
            ScsiCommandException sce = assertInstanceOf(ScsiCommandException.class, e.getCause());
            assertTrue(sce.sense().lbaOutOfRange(), sce.getMessage());
            assertEquals(BlockError.EINVAL, sce.error());
            // The session goes on working after the failure.
            writeReadCheck(d, 4096, 4096, 99);
        }
    }

    @Test
    void inquiryPagesAndReportLuns() throws Exception {
        try (IscsiBlockDevice d = (IscsiBlockDevice) BlockDevices.loadDefault().openTransport(DeviceUri.parse(tgtd.lunUrl(null, 1)),
                OpenOptions.DEFAULT)) {
            assertTrue(d.inquiry().directAccessBlockDevice());
            assertFalse(d.serialNumber().isEmpty());
            ScsiResult r = get(d.session().execute(ScsiCommand.read(1, Cdb.vpd(VpdPages.DEVICE_IDENTIFICATION, 255), 255)));
            try {
                assertFalse(VpdPages.designators(r.data()).isEmpty());
            } finally {
                r.data().release();
            }
            ScsiResult luns = get(d.session().execute(ScsiCommand.read(0, Cdb.reportLuns(4096), 4096)));
            try {
                assertEquals(List.of(0, 1), ReportLuns.parse(luns.data()));
            } finally {
                luns.data().release();
            }
        }
    }

    @Test
    void discardNeedsAThinProvisionedLun() throws Exception {
        try (BlockDevice d = BlockDevices.loadDefault().openTransport(DeviceUri.parse(tgtd.lunUrl(null, 1)), OpenOptions.DEFAULT)) {
            assertFalse(d.has(Capability.DISCARD), "tgt offers no UNMAP on a LUN without thin_provisioning");
            assertError(BlockError.ENOTSUP, d.discard(0, 1 << 20, false));
        }
        try (BlockDevice d = BlockDevices.loadDefault().openTransport(DeviceUri.parse("iscsi://" + thin.portal() + "/" + Tgtd.IQN + "/1"),
                OpenOptions.DEFAULT)) {
            assertTrue(d.has(Capability.DISCARD), d.capabilities().toString());
            long at = 8L << 20;
            int len = 1 << 20;
            byte[] data = new byte[len];
            new Random(3).nextBytes(data);
            get(d.write(at, buffer(data), false));
            assertArrayEquals(data, fileBytes(thinDisk, at, len));
            get(d.discard(at, len, false));
            assertArrayEquals(new byte[len], fileBytes(thinDisk, at, len), "discarded range reads as zeroes in the file");
        }
    }

    /** GET LBA STATUS on tgt's thin LUN (LBPME) follows the holes of its sparse backing file (SEEK_HOLE). */
    @Test
    void allocationFollowsTheSparseBackingFile() throws Exception {
        try (IscsiBlockDevice d = (IscsiBlockDevice) BlockDevices.loadDefault().openTransport(
                DeviceUri.parse("iscsi://" + thin.portal() + "/" + Tgtd.IQN + "/1"), OpenOptions.DEFAULT)) {
            assertTrue(d.reportsAllocation(), "tgt sets LBPME on a thin_provisioning LUN");
            long base = 16L << 20;
            long a = base + (4L << 20);
            long b = base + (12L << 20);
            byte[] data = new byte[1 << 20];
            new Random(11).nextBytes(data);
            get(d.write(a, buffer(data), false));
            get(d.write(b, buffer(java.util.Arrays.copyOf(data, 65536)), false));
            get(d.flush());
            long end = base + (16L << 20);
            assertEquals(List.of(Extent.hole(base, a - base), Extent.data(a, 1 << 20),
                    Extent.hole(a + (1 << 20), b - a - (1 << 20)), Extent.data(b, 65536), Extent.hole(b + 65536, end - b - 65536)),
                    get(d.allocation(base, end - base)));
            // A query starting inside a run, not on a block boundary, starts exactly where asked.
            assertEquals(List.of(Extent.data(a + 1000, (1 << 20) - 1000), Extent.hole(a + (1 << 20), 4096)),
                    get(d.allocation(a + 1000, (1 << 20) - 1000 + 4096)));
            get(d.discard(a, 1 << 20, false));
            assertEquals(List.of(Extent.hole(base, b - base), Extent.data(b, 65536)), get(d.allocation(base, b + 65536 - base)));
        }
        try (BlockDevice d = BlockDevices.loadDefault().openTransport(DeviceUri.parse(tgtd.lunUrl(null, 1)), OpenOptions.DEFAULT)) {
            assertFalse(((IscsiBlockDevice) d).reportsAllocation(), "no LBPME without thin_provisioning");
            assertEquals(List.of(Extent.data(0, SIZE)), get(d.allocation(0, SIZE)));
        }
    }

    @Test
    void writeZeroesAndFlush() throws Exception {
        try (BlockDevice d = BlockDevices.loadDefault().openTransport(DeviceUri.parse(tgtd.lunUrl(null, 1)), OpenOptions.DEFAULT)) {
            long at = 48L << 20;
            int len = 3 << 20;
            byte[] data = new byte[len];
            new Random(5).nextBytes(data);
            get(d.write(at, buffer(data), true));
            get(d.writeZeroes(at + 4096, len - 8192, false));
            get(d.flush());
            byte[] file = fileBytes(disk, at, len);
            assertArrayEquals(java.util.Arrays.copyOfRange(data, 0, 4096), java.util.Arrays.copyOfRange(file, 0, 4096));
            assertArrayEquals(new byte[len - 8192], java.util.Arrays.copyOfRange(file, 4096, len - 4096));
            assertArrayEquals(java.util.Arrays.copyOfRange(data, len - 4096, len), java.util.Arrays.copyOfRange(file, len - 4096, len));
        }
    }

    @Test
    void readOnlyRefusesWrites() throws Exception {
        try (BlockDevice d = BlockDevices.loadDefault().openTransport(DeviceUri.parse(tgtd.lunUrl(null, 1)), OpenOptions.readOnlyOptions())) {
            assertTrue(d.has(Capability.READ_ONLY));
            assertError(BlockError.EROFS, d.write(0, Buffers.zeroes(512), false));
        }
    }

    @Test
    void portalUrlListsTargetsThroughSendTargets() throws Exception {
        DeviceUri portal = DeviceUri.parse("iscsi://" + tgtd.portal() + "/");
        assertEquals(List.of(Tgtd.IQN), BlockDevices.loadDefault().provider(portal).list(portal));
    }

    @Test
    void urlWithoutLunIsRefused() {
        BlockDeviceException e = assertThrows(BlockDeviceException.class,
                () -> BlockDevices.loadDefault().openTransport(DeviceUri.parse("iscsi://" + tgtd.portal() + "/" + Tgtd.IQN), OpenOptions.DEFAULT));
        assertEquals(BlockError.EINVAL, e.error());
    }
}
