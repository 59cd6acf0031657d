package io.tapdisk4j.ring.blkif;

/** Operation codes, response statuses and flags of xen/io/blkif.h. */
public final class Blkif {

    public static final int OP_READ = 0;
    public static final int OP_WRITE = 1;
    public static final int OP_WRITE_BARRIER = 2;
    public static final int OP_FLUSH_DISKCACHE = 3;
    public static final int OP_RESERVED_1 = 4;
    public static final int OP_DISCARD = 5;
    public static final int OP_INDIRECT = 6;

    public static final short RSP_OKAY = 0;
    public static final short RSP_ERROR = -1;
    public static final short RSP_EOPNOTSUPP = -2;

    /** BLKIF_DISCARD_SECURE in blkif_request_discard.flag. */
    public static final int DISCARD_SECURE = 1;

    /** VDISK_READONLY in the backend's {@code info} key. */
    public static final int VDISK_READONLY = 4;

    private Blkif() {
    }

    public static String opName(int op) {
        return switch (op) {
            case OP_READ -> "READ";
            case OP_WRITE -> "WRITE";
            case OP_WRITE_BARRIER -> "WRITE_BARRIER";
            case OP_FLUSH_DISKCACHE -> "FLUSH_DISKCACHE";
            case OP_RESERVED_1 -> "RESERVED_1";
            case OP_DISCARD -> "DISCARD";
            case OP_INDIRECT -> "INDIRECT";
            default -> "op " + op;
        };
    }
}
