package io.tapdisk4j.nfs.v3;

/** One READDIRPLUS entry; {@code attributes} and {@code handle} are null when the server left them out. */
public record DirEntry(long fileId, String name, long cookie, Fattr3 attributes, FileHandle handle) {
}
