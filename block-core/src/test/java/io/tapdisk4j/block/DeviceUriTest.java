package io.tapdisk4j.block;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DeviceUriTest {

    @Test
    void parsesFileUri() {
        DeviceUri u = DeviceUri.parse("file:///srv/sr/disk.vhd");
        assertEquals("file", u.scheme());
        assertNull(u.host());
        assertEquals("/srv/sr/disk.vhd", u.path());
        assertTrue(u.query().isEmpty());
    }

    @Test
    void keepsQueryOfOpaqueUri() {
        DeviceUri u = DeviceUri.parse("null:?size=1G");
        assertEquals("null", u.scheme());
        assertEquals(1L << 30, u.sizeParam("size", 0));
    }

    @Test
    void parsesNetworkUriWithPortAndParameters() {
        DeviceUri u = DeviceUri.parse("nfs://server.example:2049/export/dir/f.raw?uid=0&gid=0&nconnect=4");
        assertEquals("server.example", u.host());
        assertEquals(2049, u.port());
        assertEquals("/export/dir/f.raw", u.path());
        assertEquals(4, u.longParam("nconnect", 1));
        assertEquals(111, DeviceUri.parse("nfs://h/x").port(111));
    }

    @Test
    void parsesLibiscsiUserinfoAndIpv6() {
        DeviceUri u = DeviceUri.parse("iscsi://alice%secret@[::1]:3260/iqn.2026-11.test:disk1/1");
        assertEquals("alice%secret", u.userInfo());
        assertEquals("::1", u.host());
        assertEquals(3260, u.port());
        assertEquals("/iqn.2026-11.test:disk1/1", u.path());
    }

    @Test
    void rejectsGarbage() {
        assertThrows(IllegalArgumentException.class, () -> DeviceUri.parse("no-scheme"));
        assertThrows(IllegalArgumentException.class, () -> DeviceUri.parse(":x"));
        assertThrows(IllegalArgumentException.class, () -> DeviceUri.parse("nbd://h:99999/x"));
        assertThrows(IllegalArgumentException.class, () -> DeviceUri.parse("nbd://[::1/x"));
        assertThrows(IllegalArgumentException.class, () -> DeviceUri.parse("nfs://h/x?nconnect=lots").longParam("nconnect", 1));
    }

    @Test
    void parsesSizes() {
        assertEquals(512, Sizes.parse("512"));
        assertEquals(4096, Sizes.parse("4k"));
        assertEquals(65536, Sizes.parse("64KiB"));
        assertEquals(10L << 30, Sizes.parse("10G"));
        assertEquals(3L << 39, Sizes.parse("1.5T"));
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse("-1"));
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse("lots"));
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse("99999999999P"));
        assertEquals("1.0 GiB", Sizes.format(1L << 30));
    }
}
