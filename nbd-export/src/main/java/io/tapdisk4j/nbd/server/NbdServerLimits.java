package io.tapdisk4j.nbd.server;

import io.tapdisk4j.nbd.NbdProtocol;

import java.time.Duration;

/**
 * What keeps the server alive under bad or greedy clients.
 *
 * @param maxPayload        largest READ/WRITE payload accepted (advertised as the maximum block size)
 * @param maxInFlight       requests one connection may have outstanding before the server stops reading it
 * @param maxInFlightBytes  payload bytes (both directions) one connection may have outstanding before the same
 * @param handshakeTimeout  time a client gets from connecting to entering transmission
 * @param maxConnections    connections served at once; more are closed on accept
 */
public record NbdServerLimits(int maxPayload, int maxInFlight, long maxInFlightBytes, Duration handshakeTimeout,
                              int maxConnections) {

    public static final NbdServerLimits DEFAULT = new NbdServerLimits(NbdProtocol.DEFAULT_MAX_PAYLOAD, 128,
            128L * 1024 * 1024, Duration.ofSeconds(30), 256);

    public NbdServerLimits {
        if (maxPayload < 4096 || maxInFlight < 1 || maxInFlightBytes < maxPayload || maxConnections < 1) {
            throw new IllegalArgumentException("bad NBD server limits");
        }
    }

    public NbdServerLimits withHandshakeTimeout(Duration d) {
        return new NbdServerLimits(maxPayload, maxInFlight, maxInFlightBytes, d, maxConnections);
    }

    public NbdServerLimits withMaxConnections(int n) {
        return new NbdServerLimits(maxPayload, maxInFlight, maxInFlightBytes, handshakeTimeout, n);
    }

    public NbdServerLimits withMaxPayload(int n) {
        return new NbdServerLimits(n, maxInFlight, Math.max(maxInFlightBytes, n), handshakeTimeout, maxConnections);
    }
}
