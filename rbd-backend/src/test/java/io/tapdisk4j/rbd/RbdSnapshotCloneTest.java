package io.tapdisk4j.rbd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.rbd.testing.CephCluster;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.vhd.VdiInfo;
import io.tapdisk4j.vhd.VdiOperations;
import io.tapdisk4j.vhd.VdiProgress;
import io.tapdisk4j.vhd.VhdDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static io.tapdisk4j.block.testing.DeviceIo.dom0;
import static io.tapdisk4j.block.testing.DeviceIo.get;
import static io.tapdisk4j.rbd.RbdTesting.name;
import static io.tapdisk4j.block.testing.DeviceIo.random;
import static io.tapdisk4j.block.testing.DeviceIo.readAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** vdi snapshot/clone/create/copy/info on rbd://, checked with the rbd tool; RBD's own snapshots read here. */
@Timeout(300)
class RbdSnapshotCloneTest {

    private final CephCluster ceph = CephCluster.shared();
    private final BlockDevices devices = BlockDevices.loadDefault();
    private final VdiOperations vdi = new VdiOperations(devices);

    @Test
    void snapshotAndCloneMadeHereAreSeenByRbd() throws Exception {
        String image = name("snap");
        String uri = ceph.uri(image);
        vdi.create(uri, 16 << 20, "raw", false);
        byte[] before = random(1 << 20, 10);
        byte[] after = random(1 << 20, 11);
        try (BlockDevice d = devices.open(uri)) {
            get(d.write(2 << 20, dom0(before), true));
        }
        String snapUri = vdi.snapshot(uri);
        String snap = DeviceUri.parse(snapUri).path().substring(DeviceUri.parse(snapUri).path().indexOf('@') + 1);
        assertTrue(snapUri.startsWith("rbd://admin@rbd/" + image + "@snap-"), snapUri);
        assertTrue(ceph.rbd("snap", "ls", CephCluster.POOL + "/" + image).contains(snap));
        try (BlockDevice d = devices.open(uri)) {
            get(d.write(2 << 20, dom0(after), true)); // the image stays writable; the snapshot keeps the old data
        }
        try (BlockDevice s = devices.open(snapUri)) {
            assertArrayEquals(before, readAll(s, 2 << 20, before.length));
        }

        String child = name("child");
        vdi.clone(snapUri, ceph.uri(child));
        String children = ceph.rbd("children", CephCluster.POOL + "/" + image + "@" + snap);
        assertTrue(children.contains(CephCluster.POOL + "/" + child), children);
        try (BlockDevice c = devices.open(ceph.uri(child))) {
            assertArrayEquals(before, readAll(c, 2 << 20, before.length));
            byte[] own = random(4096, 12);
            get(c.write(0, dom0(own), true));
            assertArrayEquals(own, readAll(c, 0, own.length));
            // The clone's map includes what it inherits from its parent.
            assertTrue(RbdDeviceTest.allocated(get(c.allocation(0, c.size())), 2 << 20));
        }
        try (BlockDevice d = devices.open(uri)) {
            assertArrayEquals(new byte[4096], readAll(d, 0, 4096));
        }

        // Cloning an image without a snapshot takes one (the parent stays writable).
        String second = name("child2");
        vdi.clone(uri, ceph.uri(second));
        try (BlockDevice c = devices.open(ceph.uri(second))) {
            assertArrayEquals(after, readAll(c, 2 << 20, after.length));
        }
        assertTrue(ceph.rbd("snap", "ls", CephCluster.POOL + "/" + image).contains("clone-"));
    }

    @Test
    void snapshotsAndClonesMadeByRbdReadHere() throws Exception {
        String image = name("ext");
        String spec = CephCluster.POOL + "/" + image;
        ceph.rbd("create", "--size", "16M", spec);
        byte[] first = random(8192, 20);
        try (BlockDevice d = devices.open(ceph.uri(image))) {
            get(d.write(4096, dom0(first), true));
        }
        ceph.rbd("snap", "create", spec + "@one");
        byte[] second = random(8192, 21);
        try (BlockDevice d = devices.open(ceph.uri(image))) {
            get(d.write(9 << 20, dom0(second), true));
            get(d.discard(4 << 20, 4 << 20, false)); // not allocated: nothing changes there
        }
        ceph.rbd("snap", "create", spec + "@two");
        ceph.rbd("snap", "protect", spec + "@two");
        ceph.rbd("clone", spec + "@two", CephCluster.POOL + "/" + image + "-c");
        try (RbdBlockDevice s = (RbdBlockDevice) devices.open(ceph.uri(image + "@one"))) {
            assertArrayEquals(first, readAll(s, 4096, first.length));
            assertArrayEquals(new byte[8192], readAll(s, 9 << 20, 8192));
            assertEquals(List.of("one", "two"), s.snapshots());
        }
        try (BlockDevice c = devices.open(ceph.uri(image + "-c"))) {
            assertArrayEquals(first, readAll(c, 4096, first.length));
            assertArrayEquals(second, readAll(c, 9 << 20, second.length));
        }
        // Changed between the two snapshots: only the object holding the second write.
        try (RbdBlockDevice two = (RbdBlockDevice) devices.open(ceph.uri(image + "@two"))) {
            List<Extent> changed = get(two.changedSince("one"));
            assertFalse(changed.isEmpty());
            for (Extent e : changed) {
                assertTrue(e.offset() <= 9 << 20 && e.offset() + e.length() >= (9 << 20) + 8192
                        || e.offset() >= 8 << 20 && e.offset() + e.length() <= 12 << 20, changed.toString());
            }
            assertTrue(changed.stream().anyMatch(e -> !e.hole() && e.offset() <= 9 << 20 && e.end() >= (9 << 20) + 8192),
                    changed.toString());
        }
        // Discarded since a snapshot: a hole in the diff (it reads as zeroes now).
        try (RbdBlockDevice head = (RbdBlockDevice) devices.open(ceph.uri(image))) {
            get(head.discard(8 << 20, 4 << 20, false));
            List<Extent> changed = get(head.changedSince("two"));
            assertTrue(changed.stream().anyMatch(e -> e.hole() && e.offset() <= 9 << 20 && e.end() >= (9 << 20) + 8192),
                    changed.toString());
        }
    }

    @Test
    void vhdInsideAnRbdImage(@TempDir Path tmp) throws Exception {
        String image = name("vhd");
        String uri = ceph.uri(image);
        vdi.create(uri, 64 << 20, "vhd", false);
        byte[] data = random(3 << 20, 30);
        try (BlockDevice d = devices.open(uri)) {
            assertInstanceOf(VhdDevice.class, d);
            assertEquals(64 << 20, d.size());
            get(d.write(5 << 20, dom0(data), false));
            get(d.flush());
            assertArrayEquals(data, readAll(d, 5 << 20, data.length));
        }
        VdiInfo info = vdi.info(uri);
        assertEquals("vhd", info.format());
        assertEquals(64 << 20, info.virtualSize());
        assertTrue(vdi.check(uri).ok(), vdi.check(uri).problems().toString());
        // QEMU reads the VHD through its rbd driver.
        byte[] model = new byte[64 << 20];
        System.arraycopy(data, 0, model, 5 << 20, data.length);
        Path raw = tmp.resolve("model.raw");
        Files.write(raw, model);
        assertEquals(0, RbdDeviceTest.run(Peers.require("qemu-img", "qemu-utils"), "compare", "-f", "vpc", "-F", "raw",
                ceph.qemu(image), raw.toString()));
    }

    @Test
    void createInfoResizeAndThinCopyBothWays(@TempDir Path tmp) throws Exception {
        String image = name("copy");
        String uri = ceph.uri(image);
        Path src = tmp.resolve("src.raw");
        byte[] model = new byte[256 << 20];
        byte[] a = random(1 << 20, 40);
        System.arraycopy(a, 0, model, 100 << 20, a.length);
        // A sparse source file: only the written megabyte is data.
        try (var f = new java.io.RandomAccessFile(src.toFile(), "rw")) {
            f.setLength(256 << 20);
            f.seek(100 << 20);
            f.write(a);
        }
        vdi.copy("file://" + src, uri, "raw", VdiProgress.NONE);
        VdiInfo info = vdi.info(uri);
        assertEquals(256 << 20, info.virtualSize());
        assertTrue(info.allocated() <= 8 << 20, "thin: " + info.allocated()); // at most two 4 MiB objects
        String du = ceph.rbd("du", CephCluster.POOL + "/" + image);
        assertTrue(du.contains("4 MiB") || du.contains("8 MiB"), du);

        vdi.resize(uri, 300 << 20, false);
        try (BlockDevice d = devices.open(uri, OpenOptions.readOnlyOptions())) {
            assertEquals(300 << 20, d.size());
            assertArrayEquals(a, readAll(d, 100 << 20, a.length));
        }
        Path back = tmp.resolve("back.raw");
        vdi.copy(uri, "file://" + back, "raw", VdiProgress.NONE);
        byte[] got = Files.readAllBytes(back);
        assertEquals(300 << 20, got.length);
        assertArrayEquals(model, Arrays.copyOf(got, 256 << 20));
        List<Extent> map;
        try (BlockDevice f = devices.open("file://" + back, OpenOptions.readOnlyOptions())) {
            map = get(f.allocation(0, 300 << 20));
        }
        assertTrue(map.stream().anyMatch(Extent::hole), "the copy out stays thin: " + map);
    }
}
