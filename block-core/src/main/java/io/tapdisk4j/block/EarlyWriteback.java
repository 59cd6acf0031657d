package io.tapdisk4j.block;

/**
 * A device whose writes land in a cache in front of its disk (a local file's page cache) and that can start
 * writing a range back without waiting for it (sync_file_range(2)). A long sequential writer calls it behind
 * itself, on ranges it will not write again, so that the disk works while the copy goes on instead of taking
 * everything at the final flush.
 */
public interface EarlyWriteback {

    /** Starts writing {@code [offset, offset+length)} back; returns at once. A hint: it never fails. */
    void startWriteback(long offset, long length);
}
