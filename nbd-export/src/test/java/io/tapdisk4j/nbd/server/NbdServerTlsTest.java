package io.tapdisk4j.nbd.server;

import io.tapdisk4j.block.local.MemoryDevice;
import io.tapdisk4j.nbd.Run;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** STARTTLS with X.509 certificates and with TLS-PSK, against libnbd's nbdinfo/nbdcopy and qemu-img. */
class NbdServerTlsTest {

    @TempDir
    static Path dir;
    static Path certs;
    static Path psk;

    @BeforeAll
    static void credentials() throws Exception {
        certs = TestCerts.create(dir.resolve("certs"));
        psk = dir.resolve("keys.psk");
        Files.writeString(psk, "alice:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n");
    }

    static NbdServer server(NbdServerTls tls, MemoryDevice d) throws Exception {
        return NbdServer.builder().export(new NbdExport("secure", "over TLS", d, false)).tls(tls).bindTcp("127.0.0.1", 0);
    }

    @Test
    void x509RequiredWithNbdinfoAndQemu() throws Exception {
        MemoryDevice d = new MemoryDevice("tls-x509", 8 << 20);
        try (NbdServer s = server(NbdTlsConfig.x509(certs, NbdTlsMode.REQUIRE, false), d)) {
            String nbdinfo = Peers.require("nbdinfo", "libnbd-bin");
            String out = Run.ok(nbdinfo, "nbds://127.0.0.1:" + s.port() + "/secure?tls-certificates=" + certs).output();
            assertTrue(out.contains("using TLS") || out.contains("with TLS"), out);
            assertTrue(out.contains("8388608"), out);
            // Without TLS nothing is served.
            Run.Result plain = Run.exec(List.of(nbdinfo, "nbd://127.0.0.1:" + s.port() + "/secure"));
            assertNotEquals(0, plain.status(), plain.output());
            // Data both ways through TLS.
            String qemuIo = Peers.require("qemu-io", "qemu-utils");
            String q = Run.ok(qemuIo, "--object", "tls-creds-x509,id=tls0,endpoint=client,dir=" + certs,
                    "--image-opts", "driver=nbd,host=127.0.0.1,port=" + s.port() + ",export=secure,tls-creds=tls0",
                    "-c", "write -P 0x3c 1M 256k", "-c", "read -P 0x3c 1M 256k").output();
            assertFalse(q.contains("failed") || q.contains("error"), q);
        }
    }

    @Test
    void x509WithClientVerification() throws Exception {
        MemoryDevice d = new MemoryDevice("tls-verify", 4 << 20);
        try (NbdServer s = server(NbdTlsConfig.x509(certs, NbdTlsMode.REQUIRE, true), d)) {
            String nbdinfo = Peers.require("nbdinfo", "libnbd-bin");
            // libnbd sends client-cert.pem from the directory: accepted.
            Run.ok(nbdinfo, "--size", "nbds://127.0.0.1:" + s.port() + "/secure?tls-certificates=" + certs);
            // A directory with only the CA: no client certificate, refused.
            Path caOnly = dir.resolve("ca-only");
            Files.createDirectories(caOnly);
            Files.copy(certs.resolve("ca-cert.pem"), caOnly.resolve("ca-cert.pem"));
            Run.Result r = Run.exec(List.of(nbdinfo, "--size", "nbds://127.0.0.1:" + s.port() + "/secure?tls-certificates=" + caOnly));
            assertNotEquals(0, r.status(), r.output());
        }
    }

    @Test
    void pskWithNbdinfoAndNbdcopy() throws Exception {
        MemoryDevice d = new MemoryDevice("tls-psk", 8 << 20);
        try (NbdServer s = server(NbdTlsConfig.psk(psk, NbdTlsMode.REQUIRE), d)) {
            String uri = "nbds://alice@127.0.0.1:" + s.port() + "/secure?tls-psk-file=" + psk;
            String out = Run.ok(Peers.require("nbdinfo", "libnbd-bin"), uri).output();
            assertTrue(out.contains("8388608"), out);
            Path src = dir.resolve("psk-src.raw");
            byte[] data = new byte[8 << 20];
            new java.util.Random(3).nextBytes(data);
            Files.write(src, data);
            Run.ok(Peers.require("nbdcopy", "libnbd-bin"), src.toString(), uri);
            Path back = dir.resolve("psk-back.raw");
            Run.ok(Peers.require("nbdcopy", "libnbd-bin"), uri, back.toString());
            assertArrayEquals(data, Files.readAllBytes(back));
            // A wrong key is refused.
            Path wrong = dir.resolve("wrong.psk");
            Files.writeString(wrong, "alice:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n");
            Run.Result r = Run.exec(List.of(Peers.require("nbdinfo", "libnbd-bin"),
                    "nbds://alice@127.0.0.1:" + s.port() + "/secure?tls-psk-file=" + wrong));
            assertNotEquals(0, r.status(), r.output());
        }
    }

    @Test
    void tlsOnAllowsPlainAndTls() throws Exception {
        MemoryDevice d = new MemoryDevice("tls-on", 4 << 20);
        try (NbdServer s = server(NbdTlsConfig.x509(certs, NbdTlsMode.ON, false), d)) {
            String nbdinfo = Peers.require("nbdinfo", "libnbd-bin");
            Run.ok(nbdinfo, "--size", "nbd://127.0.0.1:" + s.port() + "/secure");
            Run.ok(nbdinfo, "--size", "nbds://127.0.0.1:" + s.port() + "/secure?tls-certificates=" + certs);
        }
    }
}
