package io.tapdisk4j.nbd.client;

import io.tapdisk4j.block.DeviceUri;

/** Builds the client's TLS setup from an nbds:// URI. */
final class NbdTlsClients {

    private NbdTlsClients() {
    }

    static NbdClientTls fromUri(DeviceUri uri) {
        throw new IllegalArgumentException("nbds:// (TLS) is not implemented by the NBD client backend yet: " + uri);
    }
}
