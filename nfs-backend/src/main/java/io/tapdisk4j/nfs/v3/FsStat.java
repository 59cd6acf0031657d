package io.tapdisk4j.nfs.v3;

/** FSSTAT3resok (RFC 1813 section 3.3.18): total, free and available bytes and files. */
public record FsStat(long totalBytes, long freeBytes, long availableBytes, long totalFiles, long freeFiles,
                     long availableFiles) {
}
