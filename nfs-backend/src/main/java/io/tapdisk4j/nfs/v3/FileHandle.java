package io.tapdisk4j.nfs.v3;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.nfs.xdr.XdrDecoder;
import io.tapdisk4j.nfs.xdr.XdrEncoder;

import java.util.Arrays;
import java.util.HexFormat;

/** nfs_fh3: an opaque handle of at most 64 bytes (RFC 1813 section 2.5). */
public record FileHandle(byte[] bytes) {

    public static final int NFS3_FHSIZE = 64;

    public FileHandle {
        if (bytes.length > NFS3_FHSIZE) {
            throw new IllegalArgumentException("file handle longer than 64 bytes");
        }
        bytes = bytes.clone();
    }

    public static FileHandle decode(XdrDecoder x) {
        return new FileHandle(x.readOpaque(NFS3_FHSIZE, "file handle"));
    }

    public void encode(ByteBuf out) {
        XdrEncoder.writeOpaque(out, bytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FileHandle f && Arrays.equals(bytes, f.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "fh:" + HexFormat.of().formatHex(bytes);
    }
}
