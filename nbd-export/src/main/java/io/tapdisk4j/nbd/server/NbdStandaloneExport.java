package io.tapdisk4j.nbd.server;

import io.tapdisk4j.block.BlockDevice;

import java.io.IOException;
import java.nio.file.Path;

/**
 * What {@code tapdisk4j export} does, as a plain API: serve one device over NBD on a TCP port or a Unix
 * socket, with the TLS settings given, until the process is stopped.
 *
 * @param name      the export name ("" by default: what clients get when they name none)
 * @param tlsCerts  an X.509 directory (ca-cert.pem, server-cert.pem, server-key.pem); with {@code verifyPeer}
 *                  clients need a certificate from that CA
 * @param tlsPsk    a {@code user:hexkey} file (TLS-PSK), instead of certificates
 */
public record NbdStandaloneExport(String bind, int port, Path socket, String name, String description,
                                  boolean readOnly, NbdTlsMode tls, Path tlsCerts, boolean verifyPeer, Path tlsPsk) {

    public NbdStandaloneExport {
        if (tls == null) {
            tls = NbdTlsMode.OFF;
        }
        if (tls != NbdTlsMode.OFF && (tlsCerts == null) == (tlsPsk == null)) {
            throw new IllegalArgumentException("--tls " + tls.name().toLowerCase() + " needs exactly one of --tls-certs DIR or --tls-psk FILE");
        }
        if (socket == null && (port < 0 || port > 65535)) {
            throw new IllegalArgumentException("--port must be 0..65535");
        }
    }

    /** Starts serving {@code device}; the caller closes the server (and then the device). */
    public NbdServer start(BlockDevice device) throws IOException {
        NbdServer.Builder b = NbdServer.builder().export(new NbdExport(name == null ? "" : name, description, device, readOnly));
        if (tls != NbdTlsMode.OFF) {
            b.tls(tlsCerts != null ? NbdTlsConfig.x509(tlsCerts, tls, verifyPeer) : NbdTlsConfig.psk(tlsPsk, tls));
        }
        return socket != null ? b.bindUnix(socket) : b.bindTcp(bind == null ? "127.0.0.1" : bind, port);
    }
}
