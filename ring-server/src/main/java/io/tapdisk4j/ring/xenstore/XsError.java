package io.tapdisk4j.ring.xenstore;

/**
 * The error strings of {@code xsd_errors[]} in xen/io/xs_wire.h: xenstored answers a failed request with an
 * ERROR message whose payload is one of these names.
 */
public enum XsError {
    EINVAL, EACCES, EEXIST, EISDIR, ENOENT, ENOMEM, ENOSPC, EIO, ENOTEMPTY, ENOSYS, EROFS, EBUSY, EAGAIN,
    EISCONN, E2BIG, EPERM;

    /** The error for a wire string; unknown strings (a newer xenstored) read as EIO. */
    public static XsError parse(String s) {
        for (XsError e : values()) {
            if (e.name().equals(s)) {
                return e;
            }
        }
        return EIO;
    }
}
