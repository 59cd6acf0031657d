package io.tapdisk4j.nfs.device;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NfsUrlTest {

    private static NfsUrl parse(String s) throws BlockDeviceException {
        return NfsUrl.parse(DeviceUri.parse(s));
    }

    @Test
    void libnfsParametersAndDefaults() throws Exception {
        NfsUrl u = parse("nfs://filer:2050/srv/sr/a%20b.vhd?nfsport=2049&mountport=635&uid=1000&gid=100&nconnect=4"
                + "&version=3&timeo=5&retrans=3&soft=1&maxunstable=16M");
        assertEquals("filer", u.host());
        assertEquals(2049, u.nfsPort(), "nfsport wins over the authority's port");
        assertEquals(635, u.mountPort());
        assertEquals(1000, u.uid());
        assertEquals(100, u.gid());
        assertEquals(4, u.nconnect());
        assertEquals(Duration.ofMillis(500), u.timeout());
        assertEquals(Duration.ofMillis(2000), u.softDeadline());
        assertTrue(u.soft());
        assertEquals(16L << 20, u.maxUnstable());
        assertEquals("/srv/sr/a b.vhd", u.path());
        assertEquals("/srv/sr", u.parentPath());
        assertEquals("a b.vhd", u.fileName());

        NfsUrl d = parse("nfs://filer:2050/srv/x.raw/");
        assertEquals(2050, d.nfsPort());
        assertEquals(-1, d.mountPort(), "found with GETPORT");
        assertEquals(1, d.nconnect());
        assertFalse(d.soft());
        assertEquals(Duration.ofSeconds(10), d.timeout());
        assertEquals("/srv/x.raw", d.path());
        assertEquals(NfsUrl.DEFAULT_MAX_UNSTABLE, d.maxUnstable());
    }

    @Test
    void badUrlsAreRefusedClearly() {
        assertEquals(BlockError.ENOTSUP, assertThrows(BlockDeviceException.class,
                () -> parse("nfs://filer/srv/a?version=4")).error());
        assertEquals(BlockError.EINVAL, assertThrows(BlockDeviceException.class,
                () -> parse("nfs://filer/srv/a?nconnect=0")).error());
        assertEquals(BlockError.EINVAL, assertThrows(BlockDeviceException.class,
                () -> parse("nfs:///srv/a")).error());
        assertEquals(BlockError.EINVAL, assertThrows(BlockDeviceException.class,
                () -> parse("nfs://filer/srv/a?uid=alice")).error());
        assertEquals(BlockError.EINVAL, assertThrows(BlockDeviceException.class,
                () -> parse("nfs://filer")).error());
    }

    @Test
    void exportPrefixMatchesWholeComponents() {
        assertTrue(NfsSession.isPrefix("/srv/nfs", "/srv/nfs/sr/a.vhd"));
        assertTrue(NfsSession.isPrefix("/srv/nfs", "/srv/nfs"));
        assertFalse(NfsSession.isPrefix("/srv/nfs", "/srv/nfsother/a.vhd"));
        assertTrue(NfsSession.isPrefix("/", "/anything"));
        assertEquals("/srv", NfsSession.parent("/srv/nfs"));
        assertEquals("/", NfsSession.parent("/srv"));
    }

    @Test
    void parentLocatorsResolveNextToTheChild() {
        NfsDeviceProvider p = new NfsDeviceProvider();
        DeviceUri child = DeviceUri.parse("nfs://filer/srv/sr/child.vhd?nfsport=2049");
        assertEquals("nfs://filer/srv/sr/parent.vhd?nfsport=2049", p.resolve(child, "parent.vhd").text());
        assertNull(p.resolve(child, "/abs/parent.vhd"));
        assertEquals("nfs://filer/srv/sr/parent.vhd?nfsport=2049", p.resolve(child, "./parent.vhd").text());
        assertEquals("nfs://filer/srv/other/parent.vhd?nfsport=2049", p.resolve(child, "../other/./parent.vhd").text());
    }
}
