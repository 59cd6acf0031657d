package io.tapdisk4j.nbd.server;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.local.MemoryDevice;
import io.tapdisk4j.nbd.Run;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The standalone export (what {@code tapdisk4j export} runs) on TCP and on a Unix socket. */
class NbdServerSmokeTest {

    @TempDir
    Path dir;

    @Test
    void tcpExportWithNameAndDescription() throws Exception {
        try (var dev = new MemoryDevice("smoke", 64 << 20);
             var s = new NbdStandaloneExport("127.0.0.1", 0, null, "disk", "a test disk", false, NbdTlsMode.OFF,
                     null, false, null).start(dev)) {
            var r = Run.ok(Peers.require("nbdinfo", "libnbd-bin"), "nbd://127.0.0.1:" + s.port() + "/disk");
            assertTrue(r.output().contains("67108864") && r.output().contains("a test disk"), r.output());
        }
    }

    @Test
    void unixSocketReadOnlyExportOfAUri() throws Exception {
        Path sock = dir.resolve("export.sock");
        try (BlockDevice dev = BlockDevices.loadDefault().open("memory:?size=8M");
             var s = new NbdStandaloneExport(null, 0, sock, "", null, true, null, null, false, null).start(dev)) {
            var r = Run.ok(Peers.require("nbdinfo", "libnbd-bin"), "--json", "nbd+unix:///?socket=" + sock);
            assertTrue(r.output().contains("\"is_read_only\": true") && r.output().contains("8388608"), r.output());
        }
    }

    @Test
    void tlsWithoutCredentialsIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new NbdStandaloneExport("127.0.0.1", 0, null, "", null, false,
                NbdTlsMode.REQUIRE, null, false, null));
    }
}
