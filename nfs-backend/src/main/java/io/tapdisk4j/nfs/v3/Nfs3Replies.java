package io.tapdisk4j.nfs.v3;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.nfs.xdr.XdrDecoder;
import io.tapdisk4j.nfs.xdr.XdrException;

import java.util.List;

/**
 * Decoders of NFSv3 procedure results (RFC 1813 section 3.3). Each reads the status first and throws
 * {@link Nfs3Exception} for an error status, {@link XdrException} for a malformed body.
 */
public final class Nfs3Replies {

    private static final int MAX_NAME = 4096;

    private Nfs3Replies() {
    }

    public static Fattr3 getattr(XdrDecoder x) throws Nfs3Exception {
        Nfs3Exception.check(x.readInt(), "GETATTR");
        return Fattr3.decode(x);
    }

    public static Fattr3 setattr(XdrDecoder x) throws Nfs3Exception {
        int status = x.readInt();
        Fattr3 after = Fattr3.decodeWcc(x);
        Nfs3Exception.check(status, "SETATTR");
        return after;
    }

    public static LookupResult lookup(XdrDecoder x, String name) throws Nfs3Exception {
        int status = x.readInt();
        if (status != Nfs3Status.OK) {
            Fattr3.decodePostOp(x);
            throw new Nfs3Exception(status, "LOOKUP " + name);
        }
        FileHandle fh = FileHandle.decode(x);
        Fattr3 attrs = Fattr3.decodePostOp(x);
        Fattr3.decodePostOp(x);
        return new LookupResult(fh, attrs);
    }

    public static int access(XdrDecoder x) throws Nfs3Exception {
        int status = x.readInt();
        Fattr3.decodePostOp(x);
        Nfs3Exception.check(status, "ACCESS");
        return x.readInt();
    }

    /** The data is a retained slice of the reply body; at most {@code maxCount} bytes are accepted. */
    public static ReadResult read(XdrDecoder x, int maxCount) throws Nfs3Exception {
        int status = x.readInt();
        Fattr3.decodePostOp(x);
        Nfs3Exception.check(status, "READ");
        long count = x.readUnsignedInt();
        boolean eof = x.readBoolean();
        ByteBuf data = x.readOpaqueRetainedSlice(maxCount, "READ data");
        if (count != data.readableBytes()) {
            data.release();
            throw new XdrException("READ count " + count + " differs from data length " + data.readableBytes());
        }
        return new ReadResult(data, eof);
    }

    public static WriteResult write(XdrDecoder x) throws Nfs3Exception {
        int status = x.readInt();
        Fattr3.decodeWcc(x);
        Nfs3Exception.check(status, "WRITE");
        int count = x.readInt();
        StableHow how = StableHow.values()[x.readEnum(2, "stable_how")];
        long verf = x.readHyper();
        return new WriteResult(count, how, verf);
    }

    /** A CREATE result; the handle is null when the server did not send one (the caller LOOKUPs). */
    public static LookupResult create(XdrDecoder x, String name) throws Nfs3Exception {
        int status = x.readInt();
        if (status != Nfs3Status.OK) {
            Fattr3.decodeWcc(x);
            throw new Nfs3Exception(status, "CREATE " + name);
        }
        FileHandle fh = x.readBoolean() ? FileHandle.decode(x) : null;
        Fattr3 attrs = Fattr3.decodePostOp(x);
        Fattr3.decodeWcc(x);
        return new LookupResult(fh, attrs);
    }

    public static Void remove(XdrDecoder x, String name) throws Nfs3Exception {
        int status = x.readInt();
        Fattr3.decodeWcc(x);
        Nfs3Exception.check(status, "REMOVE " + name);
        return null;
    }

    /** RENAME3res: the status, then the wcc_data of both directories (success or not). */
    public static Void rename(XdrDecoder x, String from, String to) throws Nfs3Exception {
        int status = x.readInt();
        Fattr3.decodeWcc(x);
        Fattr3.decodeWcc(x);
        Nfs3Exception.check(status, "RENAME " + from + " to " + to);
        return null;
    }

    public static long commit(XdrDecoder x) throws Nfs3Exception {
        int status = x.readInt();
        Fattr3.decodeWcc(x);
        Nfs3Exception.check(status, "COMMIT");
        return x.readHyper();
    }

    public static FsInfo fsinfo(XdrDecoder x) throws Nfs3Exception {
        int status = x.readInt();
        Fattr3.decodePostOp(x);
        Nfs3Exception.check(status, "FSINFO");
        int rtmax = x.readInt();
        int rtpref = x.readInt();
        int rtmult = x.readInt();
        int wtmax = x.readInt();
        int wtpref = x.readInt();
        int wtmult = x.readInt();
        int dtpref = x.readInt();
        long maxFile = x.readHyper();
        x.skip(8, "time_delta");
        int props = x.readInt();
        return new FsInfo(rtmax, rtpref, rtmult, wtmax, wtpref, wtmult, dtpref, maxFile, props);
    }

    public static FsStat fsstat(XdrDecoder x) throws Nfs3Exception {
        int status = x.readInt();
        Fattr3.decodePostOp(x);
        Nfs3Exception.check(status, "FSSTAT");
        FsStat s = new FsStat(x.readHyper(), x.readHyper(), x.readHyper(), x.readHyper(), x.readHyper(), x.readHyper());
        x.readInt(); // invarsec
        return s;
    }

    /** One READDIRPLUS reply page: entries are appended to {@code into}; returns (cookieverf, eof). */
    public static DirPage readdirplus(XdrDecoder x, List<DirEntry> into, int maxEntries) throws Nfs3Exception {
        int status = x.readInt();
        Fattr3.decodePostOp(x);
        Nfs3Exception.check(status, "READDIRPLUS");
        long verf = x.readHyper();
        while (x.readBoolean()) {
            if (into.size() >= maxEntries) {
                throw new XdrException("directory listing longer than " + maxEntries + " entries");
            }
            long fileId = x.readHyper();
            String name = x.readString(MAX_NAME, "entry name");
            long cookie = x.readHyper();
            Fattr3 attrs = Fattr3.decodePostOp(x);
            FileHandle fh = x.readBoolean() ? FileHandle.decode(x) : null;
            into.add(new DirEntry(fileId, name, cookie, attrs, fh));
        }
        return new DirPage(verf, x.readBoolean());
    }

    public record DirPage(long cookieVerifier, boolean eof) {
    }
}
