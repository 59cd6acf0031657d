package io.tapdisk4j.nfs.v3;

/** createmode3 (RFC 1813 section 3.3.8). */
public enum CreateMode {
    /** Creates or truncates silently. */
    UNCHECKED,
    /** Fails with NFS3ERR_EXIST when the name exists. */
    GUARDED,
    /** Exactly-once creation keyed by a client verifier (safe across retransmission). */
    EXCLUSIVE
}
