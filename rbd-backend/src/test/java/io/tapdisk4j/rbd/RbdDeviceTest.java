package io.tapdisk4j.rbd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.rbd.testing.CephCluster;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;

import static io.tapdisk4j.block.testing.DeviceIo.dom0;
import static io.tapdisk4j.block.testing.DeviceIo.get;
import static io.tapdisk4j.rbd.RbdTesting.name;
import static io.tapdisk4j.block.testing.DeviceIo.random;
import static io.tapdisk4j.block.testing.DeviceIo.readAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** rbd:// against a real single-node Ceph cluster, checked with the rbd tool and QEMU's rbd driver. */
@Timeout(300)
class RbdDeviceTest {

    private final CephCluster ceph = CephCluster.shared();
    private final BlockDevices devices = BlockDevices.loadDefault();

    @Test
    void writtenHereReadsBackThroughRbdExportAndQemu(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        String image = name("w");
        byte[] expected = new byte[16 << 20];
        try (BlockDevice d = devices.provider(DeviceUri.parse(ceph.uri(image))).create(DeviceUri.parse(ceph.uri(image)), 16 << 20)) {
            assertEquals(16 << 20, d.size());
            byte[] a = random(3 << 20, 1);   // crosses an object boundary (4 MiB objects)
            byte[] b = random(4096, 2);
            byte[] c = random(1 << 20, 3);
            get(d.write(3 << 20, dom0(a), false));
            get(d.write(512, dom0(b), true));
            get(d.write(15 << 20, dom0(c), false));
            get(d.flush());
            System.arraycopy(a, 0, expected, 3 << 20, a.length);
            System.arraycopy(b, 0, expected, 512, b.length);
            System.arraycopy(c, 0, expected, 15 << 20, c.length);
            assertArrayEquals(Arrays.copyOfRange(expected, 0, 8 << 20), readAll(d, 0, 8 << 20));
        }
        Path exported = tmp.resolve("export.raw");
        ceph.rbd("export", CephCluster.POOL + "/" + image, exported.toString());
        assertArrayEquals(expected, Files.readAllBytes(exported));
        Path model = tmp.resolve("model.raw");
        Files.write(model, expected);
        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        Peers.requireFile("/usr/lib/x86_64-linux-gnu/qemu/block-rbd.so", "qemu-block-extra");
        assertEquals(0, run(qemuImg, "compare", "-f", "raw", "-F", "raw", model.toString(), ceph.qemu(image)));
    }

    @Test
    void writtenByRbdAndQemuReadsBackHere(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        byte[] data = random(12 << 20, 4);
        Path src = tmp.resolve("src.raw");
        Files.write(src, data);
        String imported = name("imp");
        ceph.rbd("import", src.toString(), CephCluster.POOL + "/" + imported);
        try (BlockDevice d = devices.open(ceph.uri(imported), OpenOptions.readOnlyOptions())) {
            assertTrue(d.has(Capability.READ_ONLY));
            assertArrayEquals(data, readAll(d, 0, data.length));
        }
        String converted = name("qemu");
        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        assertEquals(0, run(qemuImg, "convert", "-f", "raw", "-O", "raw", src.toString(), ceph.qemu(converted)));
        try (BlockDevice d = devices.open(ceph.uri(converted))) {
            assertEquals(data.length, d.size());
            assertArrayEquals(data, readAll(d, 0, data.length));
        }
    }

    @Test
    void allocationMapDiscardAndWriteZeroes() throws Exception {
        String image = name("alloc");
        DeviceUri uri = DeviceUri.parse(ceph.uri(image));
        try (RbdBlockDevice d = (RbdBlockDevice) devices.provider(uri).create(uri, 32 << 20)) {
            assertEquals(4 << 20, d.objectSize());
            List<Extent> empty = get(d.allocation(0, d.size()));
            assertEquals(List.of(Extent.hole(0, 32 << 20)), empty);
            get(d.write(9 << 20, dom0(random(4096, 5)), false));
            get(d.write(20 << 20, dom0(random(8192, 6)), false));
            List<Extent> map = get(d.allocation(0, d.size()));
            assertCovers(map, 0, 32 << 20);
            assertTrue(allocated(map, 9 << 20) && allocated(map, 20 << 20), map.toString());
            assertFalse(allocated(map, 0) || allocated(map, 14 << 20) || allocated(map, 31 << 20), map.toString());
            // A sub-range starts and ends where asked.
            List<Extent> part = get(d.allocation(10 << 20, 1 << 20));
            assertCovers(part, 10 << 20, 1 << 20);

            get(d.discard(8 << 20, 4 << 20, false));
            assertArrayEquals(new byte[4096], readAll(d, 9 << 20, 4096));
            assertFalse(allocated(get(d.allocation(0, d.size())), 9 << 20));
            get(d.writeZeroes(20 << 20, 8192, true));
            assertArrayEquals(new byte[8192], readAll(d, 20 << 20, 8192));
        }
    }

    @Test
    void resizeAndBadRequests() throws Exception {
        String image = name("resize");
        DeviceUri uri = DeviceUri.parse(ceph.uri(image));
        try (BlockDevice d = devices.provider(uri).create(uri, 8 << 20)) {
            get(d.resize(24 << 20));
            assertEquals(24 << 20, d.size());
            assertTrue(ceph.rbd("info", CephCluster.POOL + "/" + image).contains("size 24 MiB"));
            ExecutionException beyond = assertThrows(ExecutionException.class, () -> get(d.read(24 << 20, 512)));
            assertEquals(BlockError.EINVAL, BlockDeviceException.errorOf(beyond));
            ExecutionException neg = assertThrows(ExecutionException.class, () -> get(d.write(-1, dom0(new byte[512]), false)));
            assertEquals(BlockError.EINVAL, BlockDeviceException.errorOf(neg));
        }
        try (BlockDevice ro = devices.open(ceph.uri(image), OpenOptions.readOnlyOptions())) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> get(ro.write(0, dom0(new byte[512]), false)));
            assertEquals(BlockError.EROFS, BlockDeviceException.errorOf(e));
        }
    }

    @Test
    void wrongKeyMissingPoolAndMissingImageAreClearErrors(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path badKeyring = tmp.resolve("bad.keyring");
        // A well-formed key that the cluster never issued.
        Files.writeString(badKeyring, "[client.admin]\n\tkey = AQBQ0VZlAAAAABAAoPSEQZ0KL+vAZ1sJ0zkPjQ==\n");
        String image = name("auth");
        ceph.rbd("create", "--size", "4M", CephCluster.POOL + "/" + image);
        BlockDeviceException wrongKey = assertThrows(BlockDeviceException.class,
                () -> devices.open(ceph.uri(image, "&keyring=" + badKeyring + "&timeout=10")));
        assertEquals(BlockError.EACCES, wrongKey.error());
        assertTrue(wrongKey.getMessage().contains("client.admin"), wrongKey.getMessage());
        assertFalse(wrongKey.getMessage().contains("AQBQ0VZl"), wrongKey.getMessage());

        BlockDeviceException noPool = assertThrows(BlockDeviceException.class,
                () -> devices.open("rbd://admin@nopool/x?conf=" + ceph.conf()));
        assertTrue(noPool.getMessage().contains("pool 'nopool' does not exist"), noPool.getMessage());

        BlockDeviceException noImage = assertThrows(BlockDeviceException.class, () -> devices.open(ceph.uri("no-such-image")));
        assertTrue(noImage.getMessage().contains("no RBD image rbd/no-such-image"), noImage.getMessage());

        BlockDeviceException exists = assertThrows(BlockDeviceException.class,
                () -> devices.provider(DeviceUri.parse(ceph.uri(image))).create(DeviceUri.parse(ceph.uri(image)), 1 << 20));
        assertTrue(exists.getMessage().contains("already exists"), exists.getMessage());

        BlockDeviceException badOption = assertThrows(BlockDeviceException.class,
                () -> devices.open(ceph.uri(image, "&no_such_ceph_option=1")));
        assertTrue(badOption.getMessage().contains("bad Ceph option no_such_ceph_option"), badOption.getMessage());
    }

    static boolean allocated(List<Extent> map, long offset) {
        for (Extent e : map) {
            if (offset >= e.offset() && offset < e.end()) {
                return !e.hole();
            }
        }
        throw new AssertionError(offset + " not covered by " + map);
    }

    static void assertCovers(List<Extent> map, long offset, long length) {
        long pos = offset;
        for (Extent e : map) {
            assertEquals(pos, e.offset(), map.toString());
            pos = e.end();
        }
        assertEquals(offset + length, pos, map.toString());
    }

    static int run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        int rc = p.waitFor();
        if (rc != 0) {
            System.err.println(String.join(" ", cmd) + " -> " + rc + "\n" + out);
        }
        return rc;
    }
}
