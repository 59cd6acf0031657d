package io.tapdisk4j.nfs.mount;

import io.tapdisk4j.block.BlockError;

/** mountstat3 (RFC 1813 section 5.1.1) and the block error each becomes. */
public final class MountStatus {

    private MountStatus() {
    }

    public static String name(int status) {
        return switch (status) {
            case 0 -> "MNT3_OK";
            case 1 -> "MNT3ERR_PERM";
            case 2 -> "MNT3ERR_NOENT";
            case 5 -> "MNT3ERR_IO";
            case 13 -> "MNT3ERR_ACCES";
            case 20 -> "MNT3ERR_NOTDIR";
            case 22 -> "MNT3ERR_INVAL";
            case 63 -> "MNT3ERR_NAMETOOLONG";
            case 10004 -> "MNT3ERR_NOTSUPP";
            case 10006 -> "MNT3ERR_SERVERFAULT";
            default -> "mount status " + status;
        };
    }

    public static BlockError error(int status) {
        return switch (status) {
            case 1 -> BlockError.EPERM;
            case 13 -> BlockError.EACCES;
            case 22, 20, 63, 2 -> BlockError.EINVAL;
            case 10004 -> BlockError.ENOTSUP;
            default -> BlockError.EIO;
        };
    }
}
