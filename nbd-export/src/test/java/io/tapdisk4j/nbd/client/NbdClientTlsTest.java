package io.tapdisk4j.nbd.client;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.local.MemoryDevice;
import io.tapdisk4j.nbd.server.NbdExport;
import io.tapdisk4j.nbd.server.NbdServer;
import io.tapdisk4j.nbd.server.NbdTlsConfig;
import io.tapdisk4j.nbd.server.NbdTlsMode;
import io.tapdisk4j.nbd.server.TestCerts;
import io.tapdisk4j.testsupport.PeerProcess;
import io.tapdisk4j.testsupport.Ports;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** nbds:// against nbdkit (GnuTLS) and against tapdisk4j's own server, with certificates and with PSK. */
class NbdClientTlsTest {

    @TempDir
    static Path dir;
    static Path certs;
    static Path psk;

    @BeforeAll
    static void credentials() throws Exception {
        certs = TestCerts.create(dir.resolve("certs"));
        psk = dir.resolve("keys.psk");
        Files.writeString(psk, "bob:00112233445566778899aabbccddeeff\n");
    }

    static void roundTrip(BlockDevice d) throws Exception {
        d.write(4096, NbdBlockDeviceTest.pattern(65536, 8), true).get(30, TimeUnit.SECONDS);
        ByteBuf b = d.read(4096, 65536).get(30, TimeUnit.SECONDS);
        assertArrayEquals(NbdBlockDeviceTest.expected(65536, 8), NbdBlockDeviceTest.bytes(b));
    }

    @Test
    void x509AgainstNbdkit() throws Exception {
        int port = Ports.free();
        try (PeerProcess p = NbdPeers.nbdkit(dir, port, "--tls=require", "--tls-certificates=" + certs, "--tls-verify-peer",
                "memory", "16M");
             BlockDevice d = BlockDevices.loadDefault().open("nbds://127.0.0.1:" + port + "/?tls-certificates=" + certs)) {
            roundTrip(d);
        }
    }

    @Test
    void pskAgainstNbdkitAndWrongKeyRefused() throws Exception {
        int port = Ports.free();
        try (PeerProcess p = NbdPeers.nbdkit(dir, port, "--tls=require", "--tls-psk=" + psk, "memory", "16M")) {
            try (BlockDevice d = BlockDevices.loadDefault().open("nbds://bob@127.0.0.1:" + port + "/?tls-psk-file=" + psk)) {
                roundTrip(d);
            }
            Path wrong = dir.resolve("wrong.psk");
            Files.writeString(wrong, "bob:ffeeddccbbaa99887766554433221100\n");
            assertThrows(BlockDeviceException.class, () ->
                    BlockDevices.loadDefault().open("nbds://bob@127.0.0.1:" + port + "/?tls-psk-file=" + wrong + "&timeout=5"));
        }
    }

    @Test
    void bothAgainstOwnServer() throws Exception {
        MemoryDevice m = new MemoryDevice("client-tls-own", 16 << 20);
        try (NbdServer s = NbdServer.builder().export(new NbdExport("e", null, m, false))
                .tls(NbdTlsConfig.psk(psk, NbdTlsMode.REQUIRE)).bindTcp("127.0.0.1", 0);
             BlockDevice d = BlockDevices.loadDefault().open("nbds://bob@127.0.0.1:" + s.port() + "/e?tls-psk-file=" + psk)) {
            roundTrip(d);
        }
        try (NbdServer s = NbdServer.builder().export(new NbdExport("e", null, m, false))
                .tls(NbdTlsConfig.x509(certs, NbdTlsMode.REQUIRE, true)).bindTcp("127.0.0.1", 0);
             BlockDevice d = BlockDevices.loadDefault().open("nbds://127.0.0.1:" + s.port() + "/e?tls-certificates=" + certs)) {
            roundTrip(d);
        }
    }
}
