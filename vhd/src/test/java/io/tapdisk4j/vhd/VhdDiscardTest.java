package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
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
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Discard within blocks: in a dynamic disk the whole sectors of the range read as zeroes (data zeroed, bits
 * cleared) and a block left empty is given back; a differencing disk keeps its data. Checked against a raw
 * model, through QEMU, and at every point a crash could interrupt it.
 */
class VhdDiscardTest {

    static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    final BlockDevices devices = BlockDevices.loadDefault();
    final VdiOperations vdi = new VdiOperations(devices);

    /** A dynamic disk of {@code size} with random data in its first {@code written} bytes. */
    byte[] image(String uri, long size, int written, long seed) throws Exception {
        vdi.create(uri, size, "vhd", false);
        byte[] model = new byte[(int) size];
        byte[] data = new byte[written];
        new Random(seed).nextBytes(data);
        System.arraycopy(data, 0, model, 0, written);
        try (BlockDevice d = devices.open(uri)) {
            Disks.write(d, 0, data);
        }
        return model;
    }

    /** Discards through the device and in the model (the whole sectors of the range). */
    static void discard(BlockDevice d, byte[] model, long offset, long length) {
        d.discard(offset, length, false).orTimeout(1, TimeUnit.MINUTES).join();
        long from = (offset + 511) / 512 * 512;
        long to = (offset + length) / 512 * 512;
        if (from < to) {
            Arrays.fill(model, (int) from, (int) to, (byte) 0);
        }
    }

    /** Every sector in [from, to) lies in a hole of the allocation map. */
    static void assertHole(BlockDevice d, long from, long to) {
        for (Extent e : d.allocation(from, to - from).orTimeout(1, TimeUnit.MINUTES).join()) {
            assertTrue(e.hole(), "discarded range [" + from + ", " + to + ") reported as data: " + e);
        }
    }

    void qemuCompare(Path image, byte[] model) throws Exception {
        Path raw = dir.resolve("model.raw");
        Files.write(raw, model);
        VhdQemuInteropTest.qemuCheck(image);
        Cmd.run(VhdQemuInteropTest.qemuImg(), "compare", "-f", "vpc", "-F", "raw", image.toString(), raw.toString()).ok();
    }

    @Test
    void partialDiscardReadsZeroesAndEmptiedBlocksAreGivenBack() throws Exception {
        Path file = dir.resolve("p.vhd");
        String u = "file://" + file;
        byte[] model = image(u, 16L * MIB, 12 * MIB, 1); // blocks 0..5 allocated
        try (BlockDevice d = devices.open(u)) {
            VhdDevice v = (VhdDevice) d;
            discard(d, model, 3 * 512, 8 * 512);
            discard(d, model, 2L * MIB + 100, 10_000); // unaligned: only the whole sectors inside
            discard(d, model, 6L * MIB - 4096, 8192); // the end of block 2 and the start of block 3
            discard(d, model, 100, 300); // no whole sector: nothing happens
            Disks.assertSame(model, d, "after partial discards");
            assertEquals(6, v.allocatedBlocks());
            discard(d, model, 8L * MIB, MIB);
            discard(d, model, 9L * MIB, MIB / 2);
            assertEquals(6, v.allocatedBlocks(), "block 4 still holds its last 512 KiB");
            discard(d, model, 9L * MIB + MIB / 2, MIB / 2);
            assertEquals(5, v.allocatedBlocks(), "block 4, emptied piece by piece, was given back");
            d.writeZeroes(10L * MIB + 4096, 65536, true).orTimeout(1, TimeUnit.MINUTES).join();
            Arrays.fill(model, 10 * MIB + 4096, 10 * MIB + 4096 + 65536, (byte) 0);
            d.writeZeroes(10L * MIB + 8 * 65536, 65536, false).orTimeout(1, TimeUnit.MINUTES).join();
            Arrays.fill(model, 10 * MIB + 8 * 65536, 10 * MIB + 9 * 65536, (byte) 0);
            Disks.assertSame(model, d, "after discards and write-zeroes");
            assertHole(d, 1536, 1536 + 4096);
            assertHole(d, 6L * MIB - 4096, 6L * MIB + 4096);
            assertHole(d, 8L * MIB, 10L * MIB);
            assertHole(d, 10L * MIB + 4096, 10L * MIB + 4096 + 65536);
            assertEquals(List.of(Extent.data(10L * MIB + 8 * 65536, 65536)),
                    d.allocation(10L * MIB + 8 * 65536, 65536).orTimeout(1, TimeUnit.MINUTES).join(), "zeroes written without unmap are data");
            d.flush().orTimeout(1, TimeUnit.MINUTES).join();
        }
        try (BlockDevice d = devices.open(u, OpenOptions.readOnlyOptions())) {
            Disks.assertSame(model, d, "reopened");
            assertHole(d, 1536, 1536 + 4096); // the cleared bits were written
            assertHole(d, 6L * MIB - 4096, 6L * MIB + 4096);
        }
        assertTrue(vdi.check(u).ok(), vdi.check(u).toString());
        qemuCompare(file, model);

        // QEMU sets every bit of a block it writes into: the discarded sectors must still read as zeroes
        Cmd.run(VhdQemuInteropTest.qemuIo(), "-f", "vpc", "-c", "write -P 0x6b 64k 4k", file.toString()).ok();
        Arrays.fill(model, 65536, 65536 + 4096, (byte) 0x6b);
        try (BlockDevice d = devices.open(u)) {
            Disks.assertSame(model, d, "after QEMU wrote into a partly discarded block");
            byte[] back = new byte[4096];
            new Random(2).nextBytes(back);
            Disks.write(d, 6L * MIB - 4096, back); // data again where it was discarded
            System.arraycopy(back, 0, model, 6 * MIB - 4096, 4096);
        }
        try (BlockDevice d = devices.open(u, OpenOptions.readOnlyOptions())) {
            Disks.assertSame(model, d, "rewritten after discard, reopened");
        }
        qemuCompare(file, model);
    }

    @Test
    void discardLeavesADifferencingDiskAsItIs() throws Exception {
        String parent = "file://" + dir.resolve("dp.vhd");
        byte[] model = image(parent, 8L * MIB, 8 * MIB, 3);
        String child = "file://" + dir.resolve("dc.vhd");
        vdi.clone(parent, child);
        try (BlockDevice d = devices.open(child)) {
            byte[] mine = new byte[3 * MIB];
            new Random(4).nextBytes(mine);
            Disks.write(d, MIB, mine);
            System.arraycopy(mine, 0, model, MIB, mine.length);
            List<Extent> before = d.allocation(0, d.size()).orTimeout(1, TimeUnit.MINUTES).join();
            int blocks = ((VhdDevice) d).allocatedBlocks();
            d.discard(MIB + 4096, 65536, false).orTimeout(1, TimeUnit.MINUTES).join(); // would expose the parent's older data
            d.discard(2L * MIB, 2L * MIB, false).orTimeout(1, TimeUnit.MINUTES).join(); // a whole block too
            Disks.assertSame(model, d, "differencing disk after discard");
            assertEquals(before, d.allocation(0, d.size()).orTimeout(1, TimeUnit.MINUTES).join());
            assertEquals(blocks, ((VhdDevice) d).allocatedBlocks());
        }
        try (BlockDevice d = devices.open(child, OpenOptions.readOnlyOptions())) {
            Disks.assertSame(model, d, "reopened");
        }
    }

    @Test
    void everyCrashPointOfPartialDiscardsReadsTheSameForUsAndQemu() throws Exception {
        Path file = dir.resolve("crash.vhd");
        String u = "file://" + file;
        byte[] model = image(u, 8L * MIB, 6 * MIB, 5);
        byte[] initial = Files.readAllBytes(file);
        List<long[]> ranges = List.of(new long[]{4096, 65536}, new long[]{MIB + 512, 7 * 512},
                new long[]{4L * MIB, MIB}, new long[]{5L * MIB, MIB}); // the last two empty block 2
        ChangeLog log = new ChangeLog(FileDevice.open(file.toString(), false, false));
        try (VhdDevice v = VhdOpener.open(log, DeviceUri.parse(u), false, devices)) {
            for (long[] r : ranges) {
                v.discard(r[0], r[1], false).orTimeout(1, TimeUnit.MINUTES).join();
            }
            assertEquals(2, v.allocatedBlocks());
            v.flush().orTimeout(1, TimeUnit.MINUTES).join();
        }
        List<ChangeLog.Entry> entries = log.entries();
        List<ChangeLog.CrashImage> images = ChangeLog.crashImages(initial, entries);
        Path crashed = dir.resolve("crashed.vhd");
        Path raw = dir.resolve("crashed.raw");
        for (ChangeLog.CrashImage ci : images) {
            String what = ci.name() + " of " + entries.size();
            Files.write(crashed, ci.bytes());
            VhdChecker.Result r = vdi.check("file://" + crashed);
            assertTrue(r.ok(), what + ": vdi check: " + r);
            byte[] ours;
            try (BlockDevice d = devices.open("file://" + crashed, OpenOptions.readOnlyOptions())) {
                ours = Disks.read(d, 0, (int) d.size());
            }
            Files.deleteIfExists(raw);
            Cmd.run(VhdQemuInteropTest.qemuImg(), "convert", "-f", "vpc", "-O", "raw", crashed.toString(),
                    raw.toString()).ok();
            assertArrayEquals(ours, Files.readAllBytes(raw), what + ": QEMU reads it differently");
            for (int sector = 0; sector < model.length; sector += 512) {
                boolean discarded = false;
                for (long[] rg : ranges) {
                    discarded |= sector >= rg[0] && sector + 512 <= rg[0] + rg[1];
                }
                boolean old = Arrays.equals(ours, sector, sector + 512, model, sector, sector + 512);
                boolean zero = Arrays.equals(ours, sector, sector + 512, new byte[512], 0, 512);
                assertTrue(old || (discarded && zero), what + ": sector at " + sector + " is neither its data"
                        + (discarded ? " nor zeroes" : ""));
            }
        }
        System.out.println("partial discard: " + entries.size() + " changes, " + images.size() + " crash states checked");
        List<ChangeLog.Entry> zeroes = new ArrayList<>(entries.stream().filter(e -> e instanceof ChangeLog.Zero).toList());
        assertTrue(!zeroes.isEmpty(), "sectors were zeroed on the transport");
    }
}
