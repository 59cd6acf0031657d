/**
 * The NBD client backend: {@code NbdBlockDevice} (a pool of connections, reconnect and retry of held
 * buffers) for {@code nbd://}, {@code nbd+unix://} and {@code nbds://} URIs ({@code NbdBlockDeviceProvider}),
 * built on the handshake state machine {@code NbdClientNegotiation} and the per-connection
 * {@code NbdClientConnection}.
 */
package io.tapdisk4j.nbd.client;
