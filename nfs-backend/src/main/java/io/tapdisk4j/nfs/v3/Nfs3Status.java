package io.tapdisk4j.nfs.v3;

import io.tapdisk4j.block.BlockError;

/** nfsstat3 (RFC 1813 section 2.6): names for logs and the block error each becomes. */
public final class Nfs3Status {

    public static final int OK = 0;
    public static final int PERM = 1;
    public static final int NOENT = 2;
    public static final int IO = 5;
    public static final int NXIO = 6;
    public static final int ACCES = 13;
    public static final int EXIST = 17;
    public static final int XDEV = 18;
    public static final int NOTDIR = 20;
    public static final int ISDIR = 21;
    public static final int INVAL = 22;
    public static final int FBIG = 27;
    public static final int NOSPC = 28;
    public static final int ROFS = 30;
    public static final int NAMETOOLONG = 63;
    public static final int DQUOT = 69;
    public static final int STALE = 70;
    public static final int BADHANDLE = 10001;
    public static final int NOTSUPP = 10004;
    public static final int SERVERFAULT = 10006;
    public static final int JUKEBOX = 10008;

    private Nfs3Status() {
    }

    public static String name(int status) {
        return switch (status) {
            case OK -> "NFS3_OK";
            case PERM -> "NFS3ERR_PERM";
            case NOENT -> "NFS3ERR_NOENT";
            case IO -> "NFS3ERR_IO";
            case NXIO -> "NFS3ERR_NXIO";
            case ACCES -> "NFS3ERR_ACCES";
            case EXIST -> "NFS3ERR_EXIST";
            case XDEV -> "NFS3ERR_XDEV";
            case NOTDIR -> "NFS3ERR_NOTDIR";
            case ISDIR -> "NFS3ERR_ISDIR";
            case INVAL -> "NFS3ERR_INVAL";
            case FBIG -> "NFS3ERR_FBIG";
            case NOSPC -> "NFS3ERR_NOSPC";
            case ROFS -> "NFS3ERR_ROFS";
            case NAMETOOLONG -> "NFS3ERR_NAMETOOLONG";
            case DQUOT -> "NFS3ERR_DQUOT";
            case STALE -> "NFS3ERR_STALE";
            case BADHANDLE -> "NFS3ERR_BADHANDLE";
            case NOTSUPP -> "NFS3ERR_NOTSUPP";
            case SERVERFAULT -> "NFS3ERR_SERVERFAULT";
            case JUKEBOX -> "NFS3ERR_JUKEBOX";
            default -> "nfsstat3 " + status;
        };
    }

    public static BlockError error(int status) {
        return switch (status) {
            case PERM -> BlockError.EPERM;
            case ACCES -> BlockError.EACCES;
            case NOSPC -> BlockError.ENOSPC;
            case DQUOT -> BlockError.EDQUOT;
            case ROFS -> BlockError.EROFS;
            case STALE, BADHANDLE -> BlockError.ESTALE;
            case FBIG -> BlockError.EFBIG;
            case INVAL, NOENT, NOTDIR, ISDIR, NAMETOOLONG, EXIST -> BlockError.EINVAL;
            case NOTSUPP, XDEV -> BlockError.ENOTSUP;
            default -> BlockError.EIO;
        };
    }
}
