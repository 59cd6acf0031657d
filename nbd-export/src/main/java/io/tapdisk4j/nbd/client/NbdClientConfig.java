package io.tapdisk4j.nbd.client;

import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.nbd.NbdProtocol;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Where and how to reach an NBD export.
 *
 * @param connections      connections to open when the server allows multi-conn (else 1)
 * @param requestTimeout   a request not answered within this fails with ETIMEDOUT (retries included)
 * @param reconnectTimeout how long requests wait for a lost server to come back before they fail with EIO
 */
public record NbdClientConfig(SocketAddress address, String exportName, NbdClientTls tls, int connections,
                              Duration requestTimeout, Duration reconnectTimeout, boolean readOnly) {

    public static final int DEFAULT_PORT = 10809;

    /**
     * {@code nbd://host[:port]/export}, {@code nbd+unix:///export?socket=PATH}, {@code nbds://…} (TLS:
     * {@code tls-certificates=DIR} or {@code tls-psk-file=FILE} with the PSK user as the URI's user).
     * Parameters: {@code connections=N}, {@code timeout=SECONDS}, {@code reconnect-timeout=SECONDS}.
     */
    public static NbdClientConfig fromUri(DeviceUri uri, boolean readOnly) {
        String scheme = uri.scheme();
        String export = uri.path().startsWith("/") ? uri.path().substring(1) : uri.path();
        SocketAddress address;
        if (scheme.endsWith("+unix")) {
            String socket = uri.param("socket").orElseThrow(() ->
                    new IllegalArgumentException("nbd+unix URI needs ?socket=PATH: " + uri));
            address = new io.netty.channel.unix.DomainSocketAddress(Path.of(socket).toFile());
        } else {
            if (uri.host() == null) {
                throw new IllegalArgumentException("NBD URI needs a host: " + uri);
            }
            address = new InetSocketAddress(uri.host(), uri.port(DEFAULT_PORT));
        }
        NbdClientTls tls = null;
        if (scheme.startsWith("nbds")) {
            tls = NbdTlsClients.fromUri(uri);
        }
        int connections = (int) uri.longParam("connections", 4);
        if (connections < 1 || connections > 64) {
            throw new IllegalArgumentException("connections must be 1..64 in " + uri);
        }
        Duration timeout = Duration.ofMillis((long) (Double.parseDouble(uri.param("timeout").orElse("30")) * 1000));
        Duration reconnect = Duration.ofMillis((long) (Double.parseDouble(uri.param("reconnect-timeout").orElse("60")) * 1000));
        if (export.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > NbdProtocol.MAX_STRING) {
            throw new IllegalArgumentException("export name too long in " + uri);
        }
        return new NbdClientConfig(address, export, tls, connections, timeout, reconnect, readOnly);
    }
}
