package io.tapdisk4j.nfs.v3;

/** FSINFO3resok (RFC 1813 section 3.3.19): transfer sizes and limits. */
public record FsInfo(int rtmax, int rtpref, int rtmult, int wtmax, int wtpref, int wtmult, int dtpref,
                     long maxFileSize, int properties) {
}
