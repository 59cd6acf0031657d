package io.tapdisk4j.ring.xenstore;

/** The connection to xenstored is down (or went down while the request was outstanding). */
public final class XsConnectionException extends XsException {

    public XsConnectionException(String message) {
        super(message);
    }

    public XsConnectionException(String message, Throwable cause) {
        super(message, cause);
    }
}
