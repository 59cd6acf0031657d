/**
 * The NBD protocol (the NBD project's doc/proto.md): its numbers ({@link io.tapdisk4j.nbd.NbdProtocol}), the
 * messages of both directions, and the decoders and encoders of the server ({@code NbdServerDecoder},
 * {@code NbdServerEncoder}) and of the client ({@code NbdClientDecoder}, {@code NbdClientEncoder}).
 * Payloads travel as pooled direct buffers without copies; TLS-PSK runs through {@code BcTlsHandler}.
 */
package io.tapdisk4j.nbd;
