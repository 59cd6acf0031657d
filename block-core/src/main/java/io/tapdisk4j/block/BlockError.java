package io.tapdisk4j.block;

/** Why a block request failed, with the errno each frontend maps it to. */
public enum BlockError {
    EPERM(1),
    EIO(5),
    /** In use: another writer holds the image's lock. */
    EBUSY(16),
    ENOMEM(12),
    EACCES(13),
    EINVAL(22),
    EFBIG(27),
    ENOSPC(28),
    EROFS(30),
    EDQUOT(122),
    EOVERFLOW(75),
    ENOTSUP(95),
    ESHUTDOWN(108),
    ETIMEDOUT(110),
    ESTALE(116);

    private final int errno;

    BlockError(int errno) {
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
