package io.tapdisk4j.nbd.client;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.concurrent.Future;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.nbd.BcTlsHandler;
import io.tapdisk4j.nbd.Pem;
import io.tapdisk4j.nbd.server.NbdTlsConfig;
import org.bouncycastle.tls.BasicTlsPSKIdentity;
import org.bouncycastle.tls.PSKTlsClient;
import org.bouncycastle.tls.TlsClientProtocol;
import org.bouncycastle.tls.crypto.impl.bc.BcTlsCrypto;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Map;

/**
 * The client's TLS from an nbds:// URI, with libnbd's parameters: {@code tls-certificates=DIR} (ca-cert.pem,
 * and client-cert.pem/client-key.pem when present; the server's name is verified) or
 * {@code tls-psk-file=FILE} with the URI's user as the PSK identity.
 */
final class NbdTlsClients {

    private NbdTlsClients() {
    }

    static NbdClientTls fromUri(DeviceUri uri) {
        try {
            if (uri.param("tls-psk-file").isPresent()) {
                return psk(Path.of(uri.param("tls-psk-file").get()), uri.userInfo());
            }
            if (uri.param("tls-certificates").isPresent()) {
                return x509(Path.of(uri.param("tls-certificates").get()), uri.host());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        throw new IllegalArgumentException("nbds:// needs tls-certificates=DIR or tls-psk-file=FILE: " + uri);
    }

    static NbdClientTls x509(Path dir, String host) throws IOException {
        SslContext context;
        try {
            SslContextBuilder b = SslContextBuilder.forClient().sslProvider(SslProvider.JDK)
                    .trustManager(Pem.certificates(dir.resolve("ca-cert.pem")));
            if (Files.isReadable(dir.resolve("client-cert.pem")) && Files.isReadable(dir.resolve("client-key.pem"))) {
                b.keyManager(Pem.privateKey(dir.resolve("client-key.pem")), Pem.certificates(dir.resolve("client-cert.pem")));
            }
            context = b.build();
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("cannot load TLS certificates from " + dir + ": " + e.getMessage(), e);
        }
        return new NbdClientTls() {
            @Override
            public ChannelHandler newHandler(Channel channel) {
                SslHandler h = context.newHandler(channel.alloc(), host, 0);
                SSLEngine engine = h.engine();
                SSLParameters p = engine.getSSLParameters();
                p.setEndpointIdentificationAlgorithm("HTTPS"); // the certificate must name the host we dialled
                engine.setSSLParameters(p);
                return h;
            }

            @Override
            public Future<?> handshakeFuture(ChannelHandler handler) {
                return ((SslHandler) handler).handshakeFuture();
            }
        };
    }

    static NbdClientTls psk(Path file, String user) throws IOException {
        Map<String, byte[]> keys = NbdTlsConfig.readPskFile(file);
        String identity = user != null ? user : keys.keySet().iterator().next();
        byte[] key = keys.get(identity);
        if (key == null) {
            throw new IOException(file + " has no key for PSK user '" + identity + "'");
        }
        SecureRandom random = new SecureRandom();
        return new NbdClientTls() {
            @Override
            public ChannelHandler newHandler(Channel channel) {
                BcTlsHandler[] handler = new BcTlsHandler[1];
                PSKTlsClient client = new PSKTlsClient(new BcTlsCrypto(random),
                        new BasicTlsPSKIdentity(identity, key.clone())) {
                    @Override
                    public void notifyHandshakeComplete() throws IOException {
                        super.notifyHandshakeComplete();
                        handler[0].handshakeComplete();
                    }
                };
                handler[0] = new BcTlsHandler(new TlsClientProtocol(), p -> ((TlsClientProtocol) p).connect(client));
                return handler[0];
            }

            @Override
            public Future<?> handshakeFuture(ChannelHandler handler) {
                return ((BcTlsHandler) handler).handshakeFuture();
            }
        };
    }
}
