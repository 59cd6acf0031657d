package io.tapdisk4j.nbd.server;

import io.tapdisk4j.block.local.MemoryDevice;
import io.tapdisk4j.nbd.Run;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

class NbdServerSmokeTest {
    @Test
    void nbdinfo() throws Exception {
        try (var dev = new MemoryDevice("smoke", 64 << 20);
             var s = NbdServer.builder().export(new NbdExport("disk", "a test disk", dev, false)).bindTcp("127.0.0.1", 0)) {
            var r = Run.ok(Peers.require("nbdinfo", "libnbd-bin"), "nbd://127.0.0.1:" + s.port() + "/disk");
            System.out.println(r.output());
            assertTrue(r.output().contains("67108864"));
        }
    }
}
