package io.tapdisk4j.iscsi.device;

import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.iscsi.text.Chap;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IscsiUrlTest {

    static IscsiUrl parse(String s) {
        return IscsiUrl.parse(DeviceUri.parse(s));
    }

    @Test
    void libiscsiForm() {
        IscsiUrl u = parse("iscsi://alice%se%25cret@10.0.0.1:3261/iqn.2026-11.a:b/3");
        assertEquals("10.0.0.1", u.host());
        assertEquals(3261, u.port());
        assertEquals("iqn.2026-11.a:b", u.target());
        assertEquals(3, u.lun());
        assertEquals("alice", u.credentials().user());
        assertEquals("se%cret", u.credentials().secret());
        assertFalse(u.credentials().mutualChap());
        assertFalse(u.display().contains("cret"), "no secret in the display form");
    }

    @Test
    void defaultsAndMutualChap() {
        IscsiUrl u = parse("iscsi://a%b@host/iqn.x/0?target_user=t&target_password=p&header_digest=crc32c");
        assertEquals(3260, u.port());
        assertTrue(u.credentials().mutualChap());
        assertTrue(u.headerDigest());
        assertFalse(u.dataDigest());
        IscsiUrl portal = parse("iscsi://host:3262/");
        assertNull(portal.target());
        assertFalse(portal.namesLun());
    }

    @Test
    void chapAlgorithmsOffered() {
        assertEquals(Chap.DEFAULT_OFFER, parse("iscsi://a%b@host/iqn.x/0").sessionConfig().login().chapAlgorithms());
        IscsiUrl u = parse("iscsi://a%b@host/iqn.x/0?chap_algorithms=sha256,md5");
        assertEquals(List.of(Chap.Algorithm.SHA_256, Chap.Algorithm.MD5), u.chapAlgorithms());
        assertEquals(u.chapAlgorithms(), u.sessionConfig().login().chapAlgorithms());
        assertThrows(IllegalArgumentException.class, () -> parse("iscsi://a%b@host/iqn.x/0?chap_algorithms=md4"));
    }

    @Test
    void badUrls() {
        assertThrows(IllegalArgumentException.class, () -> parse("iscsi:///iqn.x/1"));
        assertThrows(IllegalArgumentException.class, () -> parse("iscsi://h/iqn.x/lun"));
        assertThrows(IllegalArgumentException.class, () -> parse("iscsi://h/iqn.x/99999"));
        assertThrows(IllegalArgumentException.class, () -> parse("iscsi://h/iqn.x/1?target_user=t"));
        assertThrows(IllegalArgumentException.class, () -> parse("iscsi://h/iqn.x/1?header_digest=md5"));
        assertThrows(IllegalArgumentException.class, () -> parse("nbd://h/iqn.x/1"));
    }
}
