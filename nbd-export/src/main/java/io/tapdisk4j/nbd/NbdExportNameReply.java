package io.tapdisk4j.nbd;

/** The answer to NBD_OPT_EXPORT_NAME: size and transmission flags, padded with 124 zeroes unless NO_ZEROES. */
public record NbdExportNameReply(long size, int transmissionFlags, boolean zeroes) {
}
