package io.tapdisk4j.ring.xenstore;

/** EAGAIN: a transaction conflicted with another change and must be retried. */
public final class XsConflictException extends XsErrorException {

    public XsConflictException(String message) {
        super(XsError.EAGAIN, message);
    }
}
