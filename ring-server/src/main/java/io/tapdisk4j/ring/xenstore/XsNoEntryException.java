package io.tapdisk4j.ring.xenstore;

/** ENOENT: the node (or its parent) does not exist. */
public final class XsNoEntryException extends XsErrorException {

    public XsNoEntryException(String message) {
        super(XsError.ENOENT, message);
    }
}
