package io.tapdisk4j.nfs.v3;

/** WRITE3resok: bytes written, how durable they are, and the server's write verifier. */
public record WriteResult(int count, StableHow committed, long verifier) {
}
