package io.tapdisk4j.ring.xenstore;

import java.io.IOException;

/** A xenstore operation failed: an error answer ({@link XsErrorException}) or a lost connection. */
public class XsException extends IOException {

    public XsException(String message) {
        super(message);
    }

    public XsException(String message, Throwable cause) {
        super(message, cause);
    }
}
