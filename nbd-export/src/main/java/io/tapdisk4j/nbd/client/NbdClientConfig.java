package io.tapdisk4j.nbd.client;

import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.nbd.NbdProtocol;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Where and how to reach an NBD export.
 *
 * @param connections      connections to open when the server allows multi-conn (else 1)
 * @param requestTimeout   a request not answered within this fails with ETIMEDOUT (retries included)
 * @param reconnectTimeout how long requests wait for a lost server to come back before they fail with EIO
 */
public record NbdClientConfig(SocketAddress address, String exportName, NbdClientTls tls, int connections,
                              Duration requestTimeout, Duration reconnectTimeout, boolean readOnly,
                              List<String> dirtyBitmaps) {

    /** The dirty bitmap asked for unless the URI names others: the one tapdisk4j's exports offer. */
    public static final String DEFAULT_DIRTY_BITMAP = "cbt";

    public NbdClientConfig {
        dirtyBitmaps = List.copyOf(dirtyBitmaps);
    }

    /** This configuration asking for dirty bitmaps {@code names} ({@code qemu:dirty-bitmap:NAME}) instead. */
    public NbdClientConfig withDirtyBitmaps(List<String> names) {
        return new NbdClientConfig(address, exportName, tls, connections, requestTimeout, reconnectTimeout, readOnly, names);
    }

    public static final int DEFAULT_PORT = 10809;

    /**
     * {@code nbd://host[:port]/export}, {@code nbd+unix:///export?socket=PATH}, {@code nbds://…} (TLS:
     * {@code tls-certificates=DIR} or {@code tls-psk-file=FILE} with the PSK user as the URI's user).
     * Parameters: {@code connections=N}, {@code timeout=SECONDS}, {@code reconnect-timeout=SECONDS},
     * {@code dirty-bitmap=NAME[,NAME…]} (the {@code qemu:dirty-bitmap:NAME} contexts to ask for; default
     * {@code cbt}; qemu-nbd serves a qcow2 bitmap under its own name with {@code -B NAME}).
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
        List<String> bitmaps = new ArrayList<>();
        for (String name : uri.param("dirty-bitmap").orElse(DEFAULT_DIRTY_BITMAP).split(",")) {
            // NBD_OPT_SET_META_CONTEXT queries are at most MAX_STRING bytes each.
            if (name.isEmpty() || ("qemu:dirty-bitmap:" + name).getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                    > NbdProtocol.MAX_STRING) {
                throw new IllegalArgumentException("bad dirty-bitmap name '" + name + "' in " + uri);
            }
            bitmaps.add(name);
        }
        return new NbdClientConfig(address, export, tls, connections, timeout, reconnect, readOnly, bitmaps);
    }
}
