package io.tapdisk4j.app;

import io.tapdisk4j.rbd.testing.CephCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line on rbd://: vdi create, snapshot, clone, info and sr ls against a single-node Ceph cluster. */
@Timeout(300)
class VdiOnRbdTest {

    @Test
    void vdiCommandsAndSrLsOnAPool() throws Exception {
        CephCluster ceph = CephCluster.shared();
        String name = "app-" + ProcessHandle.current().pid();
        String uri = ceph.uri(name);
        assertEquals(0, Main.run("vdi", "create", uri, "--size", "40M"));
        String snapshot = run("vdi", "snapshot", uri);
        assertTrue(snapshot.contains("@snap-"), snapshot);
        String snapName = snapshot.substring(snapshot.indexOf("@snap-") + 1).split("[?\\s]")[0];
        assertTrue(ceph.rbd("snap", "ls", CephCluster.POOL + "/" + name).contains(snapName));
        assertEquals(0, Main.run("vdi", "clone", ceph.uri(name + "@" + snapName), ceph.uri(name + "-clone")));
        assertTrue(ceph.rbd("children", CephCluster.POOL + "/" + name + "@" + snapName).contains(name + "-clone"));
        assertEquals(0, Main.run("vdi", "resize", uri, "--size", "48M"));
        String info = run("vdi", "info", uri, "--json");
        assertTrue(info.contains("\"virtual-size\":50331648"), info);

        // sr ls: every image with its size; the keyring's secret appears nowhere.
        String keyring = Files.readString(ceph.keyring());
        String secret = keyring.substring(keyring.indexOf("key = ") + 6).trim().split("\\s")[0];
        String ls = run("sr", "ls", "rbd://admin@" + CephCluster.POOL + "?conf=" + ceph.conf() + "&keyring=" + ceph.keyring());
        assertTrue(ls.startsWith("NAME"), ls);
        assertTrue(ls.lines().anyMatch(l -> l.startsWith(name + " ") && l.contains(" 50331648 ")), ls);
        assertTrue(ls.lines().anyMatch(l -> l.startsWith(name + "-clone ") && l.contains(" 41943040 ")), ls);
        assertFalse(ls.contains(secret), "the cephx key leaked into the listing");

        // Errors are one clear line, with no key in them either.
        String err = runErr("sr", "ls", "rbd://admin@nopool?conf=" + ceph.conf());
        assertTrue(err.contains("pool 'nopool' does not exist"), err);
        assertFalse(err.contains(secret));
    }

    private static String run(String... args) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, Main.run(args), String.join(" ", args));
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    private static String runErr(String... args) throws Exception {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            assertEquals(1, Main.run(args), String.join(" ", args));
        } finally {
            System.setErr(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }
}
