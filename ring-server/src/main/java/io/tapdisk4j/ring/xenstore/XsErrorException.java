package io.tapdisk4j.ring.xenstore;

/** xenstored answered ERROR with {@link #error()}; for example ENOENT for a missing node. */
public class XsErrorException extends XsException {

    private final XsError error;

    public XsErrorException(XsError error, String message) {
        super(error + ": " + message);
        this.error = error;
    }

    public XsError error() {
        return error;
    }

    /** The exception for an error answer: ENOENT and EAGAIN get their own types, callers catch them often. */
    public static XsErrorException of(XsError error, String what) {
        return switch (error) {
            case ENOENT -> new XsNoEntryException(what);
            case EAGAIN -> new XsConflictException(what);
            default -> new XsErrorException(error, what);
        };
    }
}
