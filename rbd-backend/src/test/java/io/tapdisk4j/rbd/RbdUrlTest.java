package io.tapdisk4j.rbd;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.DeviceUri;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** rbd:// URIs: the names rbd and QEMU use, Ceph options, and what never gets printed. */
@Timeout(10)
class RbdUrlTest {

    static RbdUrl parse(String s) {
        return RbdUrl.parse(DeviceUri.parse(s));
    }

    @Test
    void namesLikeTheRbdTool() {
        RbdUrl u = parse("rbd://libvirt@vms/tenant1/disk0@nightly?conf=/etc/ceph/c.conf&keyring=/k&timeout=30&mon_host=127.0.0.1:6789");
        assertEquals("libvirt", u.id());
        assertEquals("vms", u.pool());
        assertEquals("tenant1", u.namespace());
        assertEquals("disk0", u.image());
        assertEquals("nightly", u.snapshot());
        assertEquals("/etc/ceph/c.conf", u.conf());
        assertEquals(30, u.timeoutSeconds());
        assertEquals(Map.of("keyring", "/k", "mon_host", "127.0.0.1:6789"), u.cephOptions());
        assertEquals("vms/tenant1/disk0@nightly", u.imageSpec());
        assertEquals("rbd://libvirt@vms/tenant1/disk0@nightly", u.describe());

        RbdUrl plain = parse("rbd://rbd/img");
        assertEquals("admin", plain.id());
        assertNull(plain.namespace());
        assertNull(plain.snapshot());
        assertNull(plain.timeoutSeconds());
        RbdUrl pool = parse("rbd://rbd");
        assertNull(pool.image());
    }

    @Test
    void badUrisAreRefusedClearly() {
        for (String bad : List.of("rbd:///img", "rbd://rbd/a/b/c", "rbd://rbd/img@", "rbd://rbd/@snap", "rbd://rbd:6789/img",
                "rbd://rbd/img?timeout=-1", "rbd://rbd/img?timeout=x", "rbd://rbd/ns/")) {
            assertThrows(IllegalArgumentException.class, () -> parse(bad), bad);
        }
        BlockDeviceException pool = assertThrows(BlockDeviceException.class,
                () -> new RbdDeviceProvider().open(DeviceUri.parse("rbd://rbd"), io.tapdisk4j.block.OpenOptions.DEFAULT));
        assertTrue(pool.getMessage().contains("names a pool, not an image"), pool.getMessage());
    }

    @Test
    void secretsNeverReachMessages() {
        String text = "rbd://admin@rbd/img?key=AQBsecretsecret==&keyring=/k";
        assertFalse(RbdUrl.safe(DeviceUri.parse(text)).contains("AQBsecret"));
        assertFalse(parse(text).describe().contains("AQBsecret"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> parse("rbd://admin@rbd/a/b/c?key=AQBsecretsecret=="));
        assertFalse(e.getMessage().contains("AQBsecret"), e.getMessage());
    }

    @Test
    void resolveKeepsTheClusterOptions() {
        DeviceUri base = DeviceUri.parse("rbd://admin@rbd/ns/img?conf=/c&timeout=5");
        assertEquals("rbd://admin@rbd/ns/other@s1?conf=/c&timeout=5", new RbdDeviceProvider().resolve(base, "other@s1").text());
    }

    @Test
    void allocationExtentsFromDiffRuns() {
        var runs = List.of(new RbdDiff.Run(4 << 20, 4 << 20, true), new RbdDiff.Run(8 << 20, 4 << 20, true),
                new RbdDiff.Run(20 << 20, 4 << 20, true));
        var map = RbdBlockDevice.extents(6 << 20, 16 << 20, runs);
        assertEquals(List.of(io.tapdisk4j.block.Extent.data(6 << 20, 6 << 20), io.tapdisk4j.block.Extent.hole(12 << 20, 8 << 20),
                io.tapdisk4j.block.Extent.data(20 << 20, 2 << 20)), map);
    }
}
