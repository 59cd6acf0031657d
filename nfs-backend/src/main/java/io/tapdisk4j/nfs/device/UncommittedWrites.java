package io.tapdisk4j.nfs.device;

import io.netty.buffer.ByteBuf;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes the server has acknowledged as UNSTABLE (or is still working on) but not yet COMMITted, each with
 * its dom0 buffer and the write verifier its reply carried. The buffers are kept so that, when the verifier
 * changes (the server restarted and may have lost them), every write can be sent again from memory the
 * guest never owned. Kept in issue order: replaying in that order leaves overlapping ranges holding the
 * newest data.
 */
final class UncommittedWrites {

    static final class Entry {
        final long seq;
        final long offset;
        final ByteBuf data;
        long verifier;
        boolean acked;

        Entry(long seq, long offset, ByteBuf data) {
            this.seq = seq;
            this.offset = offset;
            this.data = data;
        }

        int length() {
            return data.readableBytes();
        }
    }

    private final Map<Long, Entry> entries = new LinkedHashMap<>();
    private long nextSeq;
    private long bytes;

    /** Tracks a write; takes over one reference of {@code data}. */
    synchronized Entry add(long offset, ByteBuf data) {
        Entry e = new Entry(nextSeq++, offset, data);
        entries.put(e.seq, e);
        bytes += e.length();
        return e;
    }

    synchronized void acked(Entry e, long verifier) {
        e.verifier = verifier;
        e.acked = true;
    }

    /** Forgets a write (it failed, or is durable) and releases its buffer. */
    synchronized void remove(Entry e) {
        if (entries.remove(e.seq) != null) {
            bytes -= e.length();
            e.data.release();
        }
    }

    synchronized boolean overlaps(long offset, long length) {
        for (Entry e : entries.values()) {
            if (e.offset < offset + length && offset < e.offset + e.length()) {
                return true;
            }
        }
        return false;
    }

    synchronized List<Entry> acknowledged() {
        List<Entry> l = new ArrayList<>();
        for (Entry e : entries.values()) {
            if (e.acked) {
                l.add(e);
            }
        }
        return l;
    }

    synchronized List<Entry> all() {
        return new ArrayList<>(entries.values());
    }

    /** A new reference to the entry's bytes, or null when it has been released meanwhile. */
    synchronized ByteBuf retainedData(Entry e) {
        return entries.containsKey(e.seq) ? e.data.retainedDuplicate() : null;
    }

    /**
     * When every still-tracked write of {@code snapshot} carries {@code verifier} (so COMMIT with that verifier
     * made them durable), forgets and releases them all and returns true; otherwise changes nothing.
     */
    synchronized boolean releaseIfCommitted(List<Entry> snapshot, long verifier) {
        for (Entry e : snapshot) {
            if (entries.containsKey(e.seq) && e.verifier != verifier) {
                return false;
            }
        }
        for (Entry e : snapshot) {
            remove(e);
        }
        return true;
    }

    synchronized int size() {
        return entries.size();
    }

    synchronized long bytes() {
        return bytes;
    }

    /** Releases everything (the device is closing); returns how many writes were dropped. */
    synchronized int releaseAll() {
        int n = entries.size();
        for (Entry e : entries.values()) {
            e.data.release();
        }
        entries.clear();
        bytes = 0;
        return n;
    }
}
