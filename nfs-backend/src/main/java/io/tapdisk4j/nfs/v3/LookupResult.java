package io.tapdisk4j.nfs.v3;

/** A LOOKUP or CREATE result: the handle and, when the server sent them, its attributes. */
public record LookupResult(FileHandle handle, Fattr3 attributes) {
}
