package io.tapdisk4j.nfs.v3;

/** stable_how (RFC 1813 section 3.3.7): how durable a WRITE must be before the reply. */
public enum StableHow {
    UNSTABLE, DATA_SYNC, FILE_SYNC
}
