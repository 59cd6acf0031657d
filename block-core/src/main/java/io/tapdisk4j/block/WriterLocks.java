package io.tapdisk4j.block;

/**
 * How this process treats other writers' image locks. Every writable open takes the image's writer lock
 * (an OFD lock on local files, a lock file with a lease on NFS); a second writer is refused naming the
 * holder. A lock whose holder is known dead (its lease expired, or its process is gone on this host) is
 * stale; it is broken only when the user said so ({@code --force}).
 */
public final class WriterLocks {

    private static volatile boolean breakStale;

    private WriterLocks() {
    }

    public static void breakStale(boolean yes) {
        breakStale = yes;
    }

    public static boolean breakStale() {
        return breakStale;
    }
}
