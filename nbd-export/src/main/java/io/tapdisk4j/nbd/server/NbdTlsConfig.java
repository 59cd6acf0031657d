package io.tapdisk4j.nbd.server;

import io.netty.channel.Channel;
import io.tapdisk4j.nbd.BcTlsHandler;
import io.tapdisk4j.nbd.Pem;
import io.netty.channel.ChannelHandler;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import org.bouncycastle.tls.PSKTlsServer;
import org.bouncycastle.tls.TlsPSKIdentityManager;
import org.bouncycastle.tls.TlsServerProtocol;
import org.bouncycastle.tls.crypto.impl.bc.BcTlsCrypto;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The server's TLS: X.509 from a certificate directory laid out as nbdkit and QEMU expect
 * ({@code ca-cert.pem}, {@code server-cert.pem}, {@code server-key.pem}; with {@code verifyPeer} clients must
 * present a certificate signed by the CA), or TLS-PSK from a {@code user:hexkey} file through BouncyCastle.
 */
public final class NbdTlsConfig {

    private NbdTlsConfig() {
    }

    public static NbdServerTls x509(Path certDir, NbdTlsMode mode, boolean verifyPeer) throws IOException {
        Path cert = certDir.resolve("server-cert.pem");
        Path key = certDir.resolve("server-key.pem");
        Path ca = certDir.resolve("ca-cert.pem");
        for (Path p : new Path[] {cert, key}) {
            if (!Files.isReadable(p)) {
                throw new IOException("TLS certificate directory " + certDir + " lacks a readable " + p.getFileName());
            }
        }
        SslContext context;
        try {
            SslContextBuilder b = SslContextBuilder.forServer(Pem.privateKey(key), Pem.certificates(cert))
                    .sslProvider(SslProvider.JDK);
            if (Files.isReadable(ca)) {
                b.trustManager(Pem.certificates(ca));
            }
            b.clientAuth(verifyPeer ? ClientAuth.REQUIRE : ClientAuth.NONE);
            if (verifyPeer) {
                // GnuTLS clients (libnbd, QEMU) send no certificate to the JDK's TLS 1.3 CertificateRequest;
                // with TLS 1.2 they do.
                b.protocols("TLSv1.2");
            }
            context = b.build();
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("cannot load TLS certificates from " + certDir + ": " + e.getMessage(), e);
        }
        return new NbdServerTls() {
            @Override
            public NbdTlsMode mode() {
                return mode;
            }

            @Override
            public ChannelHandler newHandler(Channel channel) {
                return context.newHandler(channel.alloc());
            }
        };
    }

    /** Reads a PSK file: lines {@code user:hexkey} (the format of nbdkit's and QEMU's --tls-psk). */
    public static Map<String, byte[]> readPskFile(Path file) throws IOException {
        Map<String, byte[]> keys = new LinkedHashMap<>();
        int lineNo = 0;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            lineNo++;
            line = line.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int colon = line.indexOf(':');
            try {
                if (colon <= 0) {
                    throw new IllegalArgumentException();
                }
                keys.put(line.substring(0, colon), HexFormat.of().parseHex(line.substring(colon + 1)));
            } catch (IllegalArgumentException e) {
                throw new IOException(file + " line " + lineNo + ": expected user:hexkey");
            }
        }
        if (keys.isEmpty()) {
            throw new IOException(file + " holds no user:hexkey line");
        }
        return keys;
    }

    public static NbdServerTls psk(Path pskFile, NbdTlsMode mode) throws IOException {
        Map<String, byte[]> keys = readPskFile(pskFile);
        SecureRandom random = new SecureRandom();
        TlsPSKIdentityManager identities = new TlsPSKIdentityManager() {
            @Override
            public byte[] getHint() {
                return null;
            }

            @Override
            public byte[] getPSK(byte[] identity) {
                byte[] k = keys.get(new String(identity, StandardCharsets.UTF_8));
                return k == null ? null : k.clone();
            }
        };
        return new NbdServerTls() {
            @Override
            public NbdTlsMode mode() {
                return mode;
            }

            @Override
            public ChannelHandler newHandler(Channel channel) {
                BcTlsHandler[] handler = new BcTlsHandler[1];
                PSKTlsServer server = new PSKTlsServer(new BcTlsCrypto(random), identities) {
                    @Override
                    public void notifyHandshakeComplete() throws IOException {
                        super.notifyHandshakeComplete();
                        handler[0].handshakeComplete();
                    }
                };
                handler[0] = new BcTlsHandler(new TlsServerProtocol(), p -> ((TlsServerProtocol) p).accept(server));
                return handler[0];
            }
        };
    }
}
