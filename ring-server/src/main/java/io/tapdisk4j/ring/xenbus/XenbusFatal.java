package io.tapdisk4j.ring.xenbus;

/**
 * A fatal device error, reported as Linux's xenbus_dev_fatal does: "{@code errno} {@code message}" under
 * the backend's error node, then the backend moves to Closing.
 */
final class XenbusFatal extends Exception {

    static final int ENOENT = 2;
    static final int EIO = 5;
    static final int ENOMEM = 12;
    static final int EINVAL = 22;
    static final int ENODEV = 19;

    final int errno;

    XenbusFatal(int errno, String message) {
        super(message, null, false, false);
        this.errno = errno;
    }

    /** The error node's value: the positive errno, a space, the message (as xenbus_va_dev_error writes it). */
    String nodeValue() {
        return errno + " " + getMessage();
    }
}
