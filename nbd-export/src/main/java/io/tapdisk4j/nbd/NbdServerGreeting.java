package io.tapdisk4j.nbd;

/** The server's first message: NBDMAGIC, IHAVEOPT and the 16-bit handshake flags. */
public record NbdServerGreeting(int handshakeFlags) {
}
