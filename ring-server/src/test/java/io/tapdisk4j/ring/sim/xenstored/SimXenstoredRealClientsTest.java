package io.tapdisk4j.ring.sim.xenstored;

import io.tapdisk4j.ring.xenstore.XsClient;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The simulated xenstored against real clients: Debian's xenstore-utils (libxenstore) and python3-pyxs. */
class SimXenstoredRealClientsTest {

    @TempDir
    Path dir;
    private SimXenstored xenstored;
    private Path sock;

    @BeforeEach
    void start() throws IOException {
        sock = dir.resolve("xenstored.sock");
        xenstored = SimXenstored.start(sock);
    }

    @AfterEach
    void stop() {
        xenstored.close();
    }

    private record Result(int exit, String out) {
    }

    private Result run(String... cmd) throws Exception {
        List<String> c = new ArrayList<>(List.of(cmd));
        if (cmd[0].startsWith("/")) {
            Peers.requireFile(cmd[0], "python3");
        } else {
            c.set(0, Peers.require(cmd[0], "xenstore-utils"));
        }
        ProcessBuilder pb = new ProcessBuilder(c).redirectErrorStream(true);
        pb.environment().put("XENSTORED_PATH", sock.toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), String.join(" ", cmd) + " hung");
        return new Result(p.exitValue(), out);
    }

    private String ok(String... cmd) throws Exception {
        Result r = run(cmd);
        assertEquals(0, r.exit, String.join(" ", cmd) + " failed: " + r.out);
        return r.out;
    }

    @Test
    void xenstoreUtilsWriteReadListLsChmodRm() throws Exception {
        String be = "/local/domain/0/backend/vbd3/1/51712";
        ok("xenstore-write", be + "/params", "file:///srv/disk.raw", be + "/mode", "w");
        assertEquals("file:///srv/disk.raw\n", ok("xenstore-read", be + "/params"));
        assertEquals("mode\nparams\n", ok("xenstore-list", be));
        // A relative path is relative to the dom0 connection's home, /local/domain/0.
        ok("xenstore-write", "relative/key", "v");
        assertEquals("v\n", ok("xenstore-read", "/local/domain/0/relative/key"));
        String ls = ok("xenstore-ls", "/local/domain/0/backend");
        assertTrue(ls.contains("params = \"file:///srv/disk.raw\""), ls);
        assertTrue(ls.contains("mode = \"w\""), ls);
        ok("xenstore-chmod", be, "b1", "r2");
        String perms = ok("xenstore-ls", "-p", "/local/domain/0/backend/vbd3/1");
        assertTrue(perms.contains("(b1,r2)"), perms);
        assertEquals(1, run("xenstore-read", "/no/such/node").exit);
        assertEquals(1, run("xenstore-exists", "/no/such/node").exit);
        ok("xenstore-rm", "/local/domain/0/backend/vbd3/1");
        assertEquals(1, run("xenstore-exists", be).exit);
        assertEquals(0, run("xenstore-exists", "/local/domain/0/backend/vbd3").exit);
    }

    @Test
    void xenstoreListOfALargeDirectoryUsesDirectoryPart() throws Exception {
        try (XsClient c = XsClient.connect(sock)) {
            c.transaction(tx -> {
                for (int i = 0; i < 700; i++) {
                    tx.write(String.format("/big/child-%05d", i), "x");
                }
                return null;
            });
        }
        String list = ok("xenstore-list", "/big");
        String[] names = list.split("\n");
        assertEquals(700, names.length); // > 4096 bytes of names: DIRECTORY says E2BIG, libxenstore pages
        assertEquals("child-00000", names[0]);
        assertEquals("child-00699", names[699]);
    }

    @Test
    void xenstoreWatchFiresOnRegistrationAndOnChangesBelow() throws Exception {
        List<String> cmd = List.of(Peers.require("xenstore-watch", "xenstore-utils"), "-n", "3",
                "/local/domain/0/backend");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("XENSTORED_PATH", sock.toString());
        Process p = pb.start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
             XsClient c = XsClient.connect(sock)) {
            assertEquals("/local/domain/0/backend", r.readLine()); // fired once on registration
            c.write("/local/domain/0/frontend/ignored", "1"); // not below the watch
            c.write("/local/domain/0/backend/vbd3/1/768/state", "1");
            assertEquals("/local/domain/0/backend/vbd3/1/768/state", r.readLine());
            c.rm("/local/domain/0/backend/vbd3");
            assertEquals("/local/domain/0/backend/vbd3", r.readLine());
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue());
        } finally {
            p.destroy();
        }
    }

    @Test
    void pyxsDoesEverythingAClientDoes() throws Exception {
        Peers.requireFile("/usr/lib/python3/dist-packages/pyxs/__init__.py", "python3-pyxs");
        Path script = dir.resolve("pyxs_check.py");
        Files.writeString(script, """
                import copy, sys
                from pyxs import Client, PyXSError
                out = []
                with Client() as c:
                    c.write(b"/py/a", b"1")
                    out.append(c.read(b"/py/a").decode())
                    c.mkdir(b"/py/dir")
                    out.append(",".join(x.decode() for x in sorted(c.list(b"/py"))))
                    c.set_perms(b"/py/a", [b"w0", b"r3"])
                    out.append(",".join(x.decode() for x in c.get_perms(b"/py/a")))
                    out.append(c.get_domain_path(3).decode())
                    c.transaction(); c.write(b"/py/t", b"x"); out.append(str(c.commit()))
                    c.transaction(); c.read(b"/py/t"); c.write(b"/py/u", b"1")
                    with Client() as d:
                        d.write(b"/py/t", b"y")
                    out.append(str(c.commit()))          # conflicted: EAGAIN, so False
                    out.append(str(c.exists(b"/py/u")))  # and nothing of it applied
                    with c.monitor() as m:
                        m.watch(b"/py", b"tok")
                        events = m.wait()
                        e = next(events); out.append(e.path.decode() + " " + e.token.decode())
                        c.write(b"/py/b", b"2")
                        e = next(events); out.append(e.path.decode() + " " + e.token.decode())
                    try:
                        c.read(b"/nonexistent")
                    except PyXSError as e:
                        out.append("errno %d" % e.args[0])
                    c.delete(b"/py")
                    out.append(str(c.exists(b"/py")))
                print("|".join(out))
                """);
        Result r = run("/usr/bin/python3", script.toString());
        assertEquals(0, r.exit, r.out);
        assertEquals("1|a,dir|w0,r3|/local/domain/3|True|False|False|/py tok|/py/b tok|errno 2|False\n", r.out);
    }

    @Test
    void aStaleSocketFileIsReplacedButALiveServerIsNot() throws Exception {
        assertTrue(SimXenstored.listening(sock));
        assertThrowsIo(() -> SimXenstored.start(sock));
        xenstored.close();
        assertFalse(SimXenstored.listening(sock));
        Files.createFile(sock); // what a killed process leaves behind
        xenstored = SimXenstored.start(sock);
        assertEquals("v\n", run("xenstore-write", "/k", "v").out + ok("xenstore-read", "/k"));
    }

    private static void assertThrowsIo(org.junit.jupiter.api.function.Executable e) {
        org.junit.jupiter.api.Assertions.assertThrows(IOException.class, e);
    }
}
