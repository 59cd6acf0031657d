/**
 * The NBD server: a frontend exporting any {@link io.tapdisk4j.block.BlockDevice}. {@code NbdServer} binds and
 * accepts; {@code NbdOptionNegotiation} is the handshake state machine; {@code NbdTransmissionHandler} serves
 * requests; {@code NbdExports} is the export registry; {@code NbdServerLimits} bounds what a client may cost;
 * {@code NbdTlsConfig} sets up STARTTLS (X.509 or PSK); {@code NbdStandaloneExport} is {@code tapdisk4j export}.
 */
package io.tapdisk4j.nbd.server;
