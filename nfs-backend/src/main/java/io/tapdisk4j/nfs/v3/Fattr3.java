package io.tapdisk4j.nfs.v3;

import io.tapdisk4j.nfs.xdr.XdrDecoder;

/** fattr3 (RFC 1813 section 2.6), the fields this client uses; times in nanoseconds since the epoch. */
public record Fattr3(int type, int mode, long nlink, int uid, int gid, long size, long used, long fsid, long fileid,
                     long mtimeNanos, long ctimeNanos) {

    public static final int NF3REG = 1;
    public static final int NF3DIR = 2;

    public static Fattr3 decode(XdrDecoder x) {
        int type = x.readEnum(7, "ftype3");
        int mode = x.readInt();
        long nlink = x.readUnsignedInt();
        int uid = x.readInt();
        int gid = x.readInt();
        long size = x.readHyper();
        long used = x.readHyper();
        x.skip(8, "rdev");
        long fsid = x.readHyper();
        long fileid = x.readHyper();
        readTime(x); // atime
        long mtime = readTime(x);
        long ctime = readTime(x);
        return new Fattr3(type, mode, nlink, uid, gid, size, used, fsid, fileid, mtime, ctime);
    }

    static long readTime(XdrDecoder x) {
        long seconds = x.readUnsignedInt();
        long nanos = x.readUnsignedInt();
        return seconds * 1_000_000_000L + nanos;
    }

    /** post_op_attr: the attributes or null. */
    public static Fattr3 decodePostOp(XdrDecoder x) {
        return x.readBoolean() ? decode(x) : null;
    }

    /** wcc_data: skips pre_op_attr and returns the post-operation attributes (or null). */
    public static Fattr3 decodeWcc(XdrDecoder x) {
        if (x.readBoolean()) {
            x.skip(24, "pre_op_attr");
        }
        return decodePostOp(x);
    }

    public boolean isDirectory() {
        return type == NF3DIR;
    }
}
