package io.tapdisk4j.nbd.server;

import io.tapdisk4j.nbd.Run;
import io.tapdisk4j.testsupport.Peers;

import java.nio.file.Files;
import java.nio.file.Path;

/** A throwaway CA, server and client certificate for 127.0.0.1, laid out as nbdkit and QEMU expect. */
public final class TestCerts {

    private TestCerts() {
    }

    public static Path create(Path dir) throws Exception {
        String openssl = Peers.require("openssl", "openssl");
        Files.createDirectories(dir);
        String d = dir.toString();
        Run.ok(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=tapdisk4j test CA",
                "-keyout", d + "/ca-key.pem", "-out", d + "/ca-cert.pem",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        for (String who : new String[] {"server", "client"}) {
            Run.ok(openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + (who.equals("server") ? "localhost" : "client"),
                    "-keyout", d + "/" + who + "-key.pem", "-out", d + "/" + who + ".csr");
            Path ext = dir.resolve(who + ".ext");
            Files.writeString(ext, who.equals("server")
                    ? "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n"
                    : "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n");
            Run.ok(openssl, "x509", "-req", "-in", d + "/" + who + ".csr", "-CA", d + "/ca-cert.pem", "-CAkey", d + "/ca-key.pem",
                    "-CAcreateserial", "-days", "2", "-extfile", ext.toString(), "-out", d + "/" + who + "-cert.pem");
        }
        return dir;
    }
}
