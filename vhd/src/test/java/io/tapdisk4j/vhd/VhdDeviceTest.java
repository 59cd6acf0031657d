package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.block.local.FileDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.util.concurrent.TimeUnit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The device itself: concurrent allocation, bounded transports, discard, allocation maps, errors. */
class VhdDeviceTest {

    @TempDir
    Path dir;

    final BlockDevices devices = BlockDevices.loadDefault();
    final VdiOperations vdi = new VdiOperations(devices);

    @Test
    void concurrentWritesIntoNewBlocksAllocateEachOnce() throws Exception {
        for (boolean differencing : new boolean[]{false, true}) {
            String base = "file://" + dir.resolve("c" + differencing + ".vhd");
            vdi.create(base, 32L << 20, "vhd", false);
            String target = base;
            if (differencing) {
                target = "file://" + dir.resolve("c-child.vhd");
                vdi.clone(base, target);
            }
            byte[] model = new byte[32 << 20];
            Random r = new Random(5);
            try (BlockDevice d = devices.open(target)) {
                List<CompletableFuture<Void>> all = new ArrayList<>();
                // 4 blocks, 64 writes of 4 KiB each in flight at once, many per block
                for (int i = 0; i < 256; i++) {
                    int block = i % 4;
                    long off = (long) block * (2 << 20) + (long) (i / 4) * 4096 + (4L << 20);
                    byte[] data = new byte[4096];
                    r.nextBytes(data);
                    System.arraycopy(data, 0, model, (int) off, data.length);
                    all.add(d.write(off, Buffers.direct(4096).writeBytes(data), false));
                }
                CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).orTimeout(1, TimeUnit.MINUTES).join();
                VhdDevice v = assertInstanceOf(VhdDevice.class, d);
                assertEquals(4, v.allocatedBlocks(), "each block allocated exactly once");
                Disks.assertSame(model, d, "after concurrent writes");
                d.flush().orTimeout(1, TimeUnit.MINUTES).join();
            }
            try (BlockDevice d = devices.open(target, OpenOptions.readOnlyOptions())) {
                Disks.assertSame(model, d, "reopened");
                VhdDevice v = (VhdDevice) d;
                long blockTotal = 512 + (2 << 20);
                assertEquals(v.endOfData() + 512, Files.size(Path.of(DeviceUri.parse(target).path())),
                        "file trimmed to data and footer");
                assertEquals(v.metadataEnd() + 4 * blockTotal, v.endOfData(), "no block space wasted");
            }
            assertTrue(vdi.check(target).ok());
        }
    }

    @Test
    void transportThatCannotGrowBoundsTheImage() throws Exception {
        Path lun = dir.resolve("lun.raw");
        Files.write(lun, new byte[0]);
        try (var f = new java.io.RandomAccessFile(lun.toFile(), "rw")) {
            f.setLength(12L << 20);
            // stale data a LUN may hold from earlier use: must never show through
            f.seek(5L << 20);
            f.write(new byte[]{9, 9, 9, 9});
        }
        DeviceUri u = DeviceUri.parse("file://" + lun);
        try (BlockDevice t = new LunLikeDevice(FileDevice.open(lun.toString(), false, false))) {
            VhdCreator.createDynamic(t, 64L << 20, 2 << 20);
        }
        byte[] model = new byte[64 << 20];
        try (BlockDevice d = VhdOpener.open(new LunLikeDevice(FileDevice.open(lun.toString(), false, false)), u, false, devices)) {
            byte[] one = new byte[512];
            java.util.Arrays.fill(one, (byte) 7);
            int written = 0;
            BlockDeviceException full = null;
            for (int b = 0; b < 32 && full == null; b++) {
                try {
                    Disks.write(d, (long) b * (2 << 20), one);
                    System.arraycopy(one, 0, model, b * (2 << 20), 512);
                    written++;
                } catch (java.util.concurrent.CompletionException e) {
                    full = (BlockDeviceException) BlockDeviceException.unwrap(e);
                }
            }
            assertEquals(BlockError.ENOSPC, full.error());
            assertEquals(5, written, "12 MiB of storage holds 5 blocks of 2 MiB after the metadata");
            Disks.assertSame(model, d, "bounded image");
            d.flush().orTimeout(1, TimeUnit.MINUTES).join();
        }
        try (BlockDevice d = devices.open("file://" + lun, OpenOptions.readOnlyOptions().withFormat("vhd"))) {
            Disks.assertSame(model, d, "reopened");
        }
        assertEquals(12L << 20, Files.size(lun), "the LUN did not grow");
    }

    @Test
    void vhdOnMemoryStorage() throws Exception {
        DeviceUri u = DeviceUri.parse("memory:vhd-test-" + System.nanoTime());
        byte[] model = new byte[10 << 20];
        try (BlockDevice d = devices.create(u, 10 << 20, "vhd")) {
            Disks.scribble(d, model, new Random(1), 30, 100_000, true);
        }
        try (BlockDevice d = devices.open(u, OpenOptions.DEFAULT)) {
            assertInstanceOf(VhdDevice.class, d);
            Disks.assertSame(model, d, "memory-backed VHD");
        }
    }

    @Test
    void discardGivesWholeBlocksBackAndAllocationShowsIt() throws Exception {
        String u = "file://" + dir.resolve("d.vhd");
        vdi.create(u, 16L << 20, "vhd", false);
        try (BlockDevice d = devices.open(u)) {
            assertTrue(d.has(Capability.DISCARD));
            byte[] data = new byte[6 << 20];
            java.util.Arrays.fill(data, (byte) 1);
            Disks.write(d, 2 << 20, data); // blocks 1, 2, 3
            List<Extent> map = d.allocation(0, d.size()).orTimeout(1, TimeUnit.MINUTES).join();
            assertEquals(List.of(Extent.hole(0, 2 << 20), Extent.data(2 << 20, 6 << 20), Extent.hole(8 << 20, 8 << 20)), map);
            d.discard((2 << 20) + 512, (4 << 20), false).orTimeout(1, TimeUnit.MINUTES).join(); // block 2 only is whole
            assertEquals(2, ((VhdDevice) d).allocatedBlocks());
            byte[] back = Disks.read(d, 4 << 20, 2 << 20);
            assertTrue(allZero(back), "a discarded block reads zeroes");
            d.writeZeroes(2 << 20, 2 << 20, true).orTimeout(1, TimeUnit.MINUTES).join();
            assertEquals(1, ((VhdDevice) d).allocatedBlocks());
            d.writeZeroes(6 << 20, 4096, false).orTimeout(1, TimeUnit.MINUTES).join();
            assertTrue(allZero(Disks.read(d, 6 << 20, 4096)));
            assertEquals(1, Disks.read(d, (6 << 20) + 4096, 1)[0]);
        }
        assertTrue(vdi.check(u).ok());
        Cmd.run(VhdQemuInteropTest.qemuImg(), "convert", "-f", "vpc", "-O", "raw", DeviceUri.parse(u).path(),
                dir.resolve("d.raw").toString()).ok();
        byte[] raw = Files.readAllBytes(dir.resolve("d.raw"));
        assertTrue(allZero(java.util.Arrays.copyOfRange(raw, 0, (6 << 20) + 4096)));
        assertEquals(1, raw[(6 << 20) + 4096]);
    }

    @Test
    void requestErrors() throws Exception {
        String u = "file://" + dir.resolve("e.vhd");
        vdi.create(u, 4L << 20, "vhd", false);
        try (BlockDevice d = devices.open(u, OpenOptions.readOnlyOptions())) {
            assertTrue(d.has(Capability.READ_ONLY));
            BlockDeviceException ro = (BlockDeviceException) BlockDeviceException.unwrap(assertThrows(Exception.class,
                    () -> d.write(0, Buffers.zeroes(512), false).orTimeout(1, TimeUnit.MINUTES).join()));
            assertEquals(BlockError.EROFS, ro.error());
            BlockDeviceException range = (BlockDeviceException) BlockDeviceException.unwrap(assertThrows(Exception.class,
                    () -> d.read(4L << 20, 512).orTimeout(1, TimeUnit.MINUTES).join()));
            assertEquals(BlockError.EINVAL, range.error());
        }
        try (BlockDevice d = devices.open(u)) {
            BlockDeviceException shrink = assertThrows(BlockDeviceException.class, () -> ((VhdDevice) d).resizeSync(1 << 20));
            assertTrue(shrink.getMessage().contains("shrinking"));
            assertFalse(d.allocation(0, d.size()).orTimeout(1, TimeUnit.MINUTES).join().isEmpty());
        }
    }

    static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }
}
