package io.tapdisk4j.rbd;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;

/** librados/librbd return codes (negative errno) as {@link BlockDeviceException}s. */
final class RbdErrors {

    static final int EPERM = 1;
    static final int ENOENT = 2;
    static final int EIO = 5;
    static final int EACCES = 13;
    static final int EBUSY = 16;
    static final int EEXIST = 17;
    static final int EINVAL = 22;
    static final int ENOSPC = 28;
    static final int EROFS = 30;
    static final int ERANGE = 34;
    static final int ENOSYS = 38;
    static final int ENOTEMPTY = 39;
    static final int EOPNOTSUPP = 95;
    static final int ESHUTDOWN = 108;
    static final int ETIMEDOUT = 110;
    static final int EDQUOT = 122;

    private RbdErrors() {
    }

    static String name(int errno) {
        return switch (errno) {
            case EPERM -> "EPERM";
            case ENOENT -> "ENOENT";
            case EIO -> "EIO";
            case EACCES -> "EACCES";
            case EBUSY -> "EBUSY";
            case EEXIST -> "EEXIST";
            case EINVAL -> "EINVAL";
            case ENOSPC -> "ENOSPC";
            case EROFS -> "EROFS";
            case ERANGE -> "ERANGE";
            case ENOTEMPTY -> "ENOTEMPTY";
            case EOPNOTSUPP -> "EOPNOTSUPP";
            case ESHUTDOWN -> "ESHUTDOWN";
            case ETIMEDOUT -> "ETIMEDOUT";
            case EDQUOT -> "EDQUOT";
            default -> "errno " + errno;
        };
    }

    /**
     * The error a failed I/O request reports to its frontend: what the guest can act on (read-only, no space,
     * bad range) keeps its meaning; everything else, a timeout included, is EIO.
     */
    static BlockDeviceException io(String what, long rc) {
        int errno = (int) -rc;
        BlockError e = switch (errno) {
            case EROFS -> BlockError.EROFS;
            case ENOSPC -> BlockError.ENOSPC;
            case EDQUOT -> BlockError.EDQUOT;
            case EINVAL -> BlockError.EINVAL;
            default -> BlockError.EIO;
        };
        String why = errno == ETIMEDOUT ? " (the cluster did not answer within the timeout)" : "";
        return new BlockDeviceException(e, what + " failed: " + name(errno) + why);
    }

    /** A failed management call (open, create, snapshot, …). */
    static BlockDeviceException op(String what, int rc) {
        int errno = -rc;
        BlockError e = switch (errno) {
            case ENOENT -> BlockError.EINVAL;
            case EPERM, EACCES -> BlockError.EACCES;
            case EROFS -> BlockError.EROFS;
            case ENOSPC -> BlockError.ENOSPC;
            case EOPNOTSUPP, ENOSYS -> BlockError.ENOTSUP;
            case ETIMEDOUT -> BlockError.ETIMEDOUT;
            default -> BlockError.EIO;
        };
        return new BlockDeviceException(e, what + ": " + name(errno));
    }
}
