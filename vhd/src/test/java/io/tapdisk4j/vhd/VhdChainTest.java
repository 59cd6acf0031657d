package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.OpenOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.util.concurrent.TimeUnit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Snapshot, clone, writes at every level, coalesce, copy and resize, checked against raw models. */
class VhdChainTest {

    static final long SIZE = 24L << 20;

    @TempDir
    Path dir;

    final BlockDevices devices = BlockDevices.loadDefault();
    final VdiOperations vdi = new VdiOperations(devices);

    String uri(String name) {
        return "file://" + dir.resolve(name);
    }

    void scribbleInto(String uri, byte[] model, long seed) throws Exception {
        try (BlockDevice d = devices.open(uri)) {
            Disks.scribble(d, model, new Random(seed), 40, 200_000, true);
            Disks.scribble(d, model, new Random(seed + 1), 5, 2000, false);
            Disks.assertSame(model, d, uri + " while open");
        }
        assertContents(uri, model);
    }

    void assertContents(String uri, byte[] model) throws Exception {
        Disks.assertImage(vdi, uri, model);
    }

    @Test
    void snapshotCloneWriteCoalesce() throws Exception {
        String base = uri("base.vhd");
        vdi.create(base, SIZE, "vhd", false);
        byte[] m0 = new byte[(int) SIZE];
        scribbleInto(base, m0, 1);

        String frozen = vdi.snapshot(base);
        assertContents(base, m0);
        assertContents(frozen, m0);
        byte[] m1 = m0.clone();
        scribbleInto(base, m1, 2);
        assertContents(frozen, m0);

        String clone = uri("clone.vhd");
        vdi.clone(frozen, clone);
        byte[] mc = m0.clone();
        assertContents(clone, mc);
        scribbleInto(clone, mc, 3);
        assertContents(base, m1);

        String frozen2 = vdi.snapshot(base);
        byte[] m2 = m1.clone();
        scribbleInto(base, m2, 4);
        VdiInfo info = vdi.info(base);
        assertEquals(List.of(base, frozen2, frozen), info.chain());
        assertEquals("differencing", info.type());
        assertTrue(info.toJson().contains("\"chain\":[\"" + base + "\""), info.toJson());

        // allocation of the whole chain: data wherever any level wrote
        try (BlockDevice d = devices.open(base, OpenOptions.readOnlyOptions())) {
            List<Extent> map = d.allocation(0, d.size()).orTimeout(1, TimeUnit.MINUTES).join();
            assertEquals(0, map.getFirst().offset());
            assertEquals(d.size(), map.getLast().end());
            for (Extent e : map) {
                if (e.hole()) {
                    for (long p = e.offset(); p < e.end(); p++) {
                        if (m2[(int) p] != 0) {
                            throw new AssertionError("hole at " + p + " holds data");
                        }
                    }
                }
            }
        }

        vdi.coalesce(base, VdiProgress.NONE);
        assertContents(base, m2);
        assertContents(frozen2, m2);
        assertEquals(0, vdi.info(base).allocated());
        assertContents(clone, mc);
        assertContents(frozen, m0);

        // copies flatten the chain, thin
        String raw = uri("flat.raw");
        vdi.copy(base, raw, "raw", VdiProgress.NONE);
        assertContents(raw, m2);
        String flatVhd = uri("flat.vhd");
        vdi.copy(clone, flatVhd, "vhd", VdiProgress.NONE);
        assertContents(flatVhd, mc);
        assertEquals(DiskType.DYNAMIC.name().toLowerCase(), vdi.info(flatVhd).type());
    }

    @Test
    void relativeLocatorsLetAChainMove() throws Exception {
        Path a = dir.resolve("a");
        Files.createDirectories(a);
        String base = "file://" + a.resolve("base.vhd");
        vdi.create(base, SIZE, "vhd", false);
        byte[] m = new byte[(int) SIZE];
        scribbleInto(base, m, 9);
        String frozen = vdi.snapshot(base);
        Path b = dir.resolve("b");
        Files.move(a, b);
        String moved = "file://" + b.resolve("base.vhd");
        assertContents(moved, m);
        assertEquals(frozen.replace("/a/", "/b/"), vdi.info(moved).parent());
    }

    @Test
    void resizeGrowsSparseDisksAndChildren() throws Exception {
        String base = uri("r.vhd");
        vdi.create(base, SIZE, "vhd", false);
        byte[] m = new byte[(int) SIZE];
        scribbleInto(base, m, 11);
        long bigger = 300L << 20; // needs a BAT of two sectors: blocks in the way move to the end
        vdi.resize(base, bigger);
        byte[] mb = java.util.Arrays.copyOf(m, (int) bigger);
        assertContents(base, mb);
        scribbleInto(base, mb, 12);
        String frozen = vdi.snapshot(base);
        long biggest = 600L << 20; // a differencing child: its locators follow the BAT, so the BAT moves
        vdi.resize(base, biggest);
        byte[] mc = java.util.Arrays.copyOf(mb, (int) biggest);
        assertContents(base, mc);
        scribbleInto(base, mc, 13);
        assertContents(frozen, mb);
        Cmd.run(VhdQemuInteropTest.qemuImg(), "info", "-f", "vpc", dir.resolve(Path.of(frozen.substring(7)).getFileName()).toString()).ok();
    }

    @Test
    void fixedAndRawThroughTheSameOperations() throws Exception {
        String fixed = uri("fixed.vhd");
        vdi.create(fixed, 8 << 20, "vhd", true);
        assertEquals("fixed", vdi.info(fixed).type());
        byte[] m = new byte[8 << 20];
        scribbleInto(fixed, m, 21);
        vdi.resize(fixed, 12 << 20);
        byte[] mb = java.util.Arrays.copyOf(m, 12 << 20);
        assertContents(fixed, mb);
        String raw = uri("plain.raw");
        vdi.create(raw, 4 << 20, "raw", false);
        VdiInfo info = vdi.info(raw);
        assertEquals("raw", info.format());
        assertNotNull(info.toText());
        vdi.copy(fixed, uri("fixed-copy.vhd"), "vhd", VdiProgress.NONE);
        assertContents(uri("fixed-copy.vhd"), mb);
        BlockDevice d = devices.open(uri("fixed-copy.vhd"));
        try (d) {
            assertInstanceOf(VhdDevice.class, d);
        }
    }

    @Test
    void chainsOnNonFileStorageUseDeviceUriLocators() throws Exception {
        String base = "memory:chain-base-" + System.nanoTime();
        String child = "memory:chain-child-" + System.nanoTime();
        vdi.create(base, SIZE, "vhd", false);
        byte[] m = new byte[(int) SIZE];
        scribbleInto(base, m, 31);
        vdi.clone(base, child);
        byte[] mc = m.clone();
        scribbleInto(child, mc, 32);
        assertContents(base, m);
        assertEquals(base, vdi.info(child).parent());
        try (BlockDevice t = devices.openTransport(io.tapdisk4j.block.DeviceUri.parse(child), OpenOptions.readOnlyOptions())) {
            VhdFooter f = VhdOpener.readFooter(t, child);
            VhdDynamicHeader h = VhdDynamicHeader.parse(Disks.read(t, f.dataOffset(), VhdDynamicHeader.SIZE), child);
            assertEquals(List.of("MacX"), h.locators().stream().filter(l -> !l.isEmpty())
                    .map(ParentLocator::platformName).toList(), "a device URI, no paths, for non-file storage");
        }
    }

    @Test
    void snapshotWhereStorageCannotRenameNamesCloneAndChangesNothing() throws Exception {
        String base = "memory:snap-refused-" + System.nanoTime();
        vdi.create(base, SIZE, "vhd", false);
        byte[] m = new byte[(int) SIZE];
        scribbleInto(base, m, 51);
        io.tapdisk4j.block.BlockDeviceException e = org.junit.jupiter.api.Assertions.assertThrows(
                io.tapdisk4j.block.BlockDeviceException.class, () -> vdi.snapshot(base));
        assertEquals(io.tapdisk4j.block.BlockError.ENOTSUP, e.error());
        assertTrue(e.getMessage().contains("'vdi clone " + base + " NEWURI'"), e.getMessage());
        assertContents(base, m);
        assertEquals("dynamic", vdi.info(base).type());
    }

    @Test
    void localChainsRecordRelativeAbsoluteAndUriLocators() throws Exception {
        String base = uri("l.vhd");
        vdi.create(base, SIZE, "vhd", false);
        String child = uri("l-child.vhd");
        vdi.clone(base, child);
        try (BlockDevice t = devices.openTransport(io.tapdisk4j.block.DeviceUri.parse(child), OpenOptions.readOnlyOptions())) {
            VhdFooter f = VhdOpener.readFooter(t, child);
            VhdDynamicHeader h = VhdDynamicHeader.parse(Disks.read(t, f.dataOffset(), VhdDynamicHeader.SIZE), child);
            assertEquals(List.of("W2ru", "W2ku", "MacX"), h.locators().stream().filter(l -> !l.isEmpty())
                    .map(ParentLocator::platformName).toList());
            assertEquals("l.vhd", h.parentName());
        }
    }

    @Test
    void interruptedCopyAndCoalesceLeaveValidImages() throws Exception {
        String base = uri("i.vhd");
        vdi.create(base, SIZE, "vhd", false);
        byte[] m = new byte[(int) SIZE];
        scribbleInto(base, m, 41);
        String frozen = vdi.snapshot(base);
        byte[] mc = m.clone();
        scribbleInto(base, mc, 42);
        VdiProgress stopSoon = new VdiProgress() {
            int calls;

            @Override
            public void update(String phase, long done, long total) {
                calls++;
            }

            @Override
            public boolean cancelled() {
                return calls > 2;
            }
        };
        String copy = uri("i-copy.vhd");
        org.junit.jupiter.api.Assertions.assertThrows(io.tapdisk4j.block.BlockDeviceException.class,
                () -> vdi.copy(base, copy, "vhd", stopSoon));
        assertTrue(vdi.check(copy).ok(), "an interrupted copy is a valid image");
        org.junit.jupiter.api.Assertions.assertThrows(io.tapdisk4j.block.BlockDeviceException.class,
                () -> vdi.coalesce(base, new VdiProgress() {
                    int calls;

                    @Override
                    public void update(String phase, long done, long total) {
                        calls++;
                    }

                    @Override
                    public boolean cancelled() {
                        return calls > 1;
                    }
                }));
        assertContents(base, mc);
        vdi.coalesce(base, VdiProgress.NONE);
        assertContents(base, mc);
        assertContents(frozen, mc);
    }
}
