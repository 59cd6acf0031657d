package io.tapdisk4j.nfs.xdr;

/** Input that does not follow the XDR layout it claims to (truncated, oversized, or impossible values). */
public final class XdrException extends RuntimeException {

    public XdrException(String message) {
        super(message);
    }
}
