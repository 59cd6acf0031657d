package io.tapdisk4j.block.cbt;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;

/**
 * A changed-block log open for tracking, where {@link ChangeTrackingDevice} stores bitmap words: a local file
 * mapped shared ({@link MappedLog}) or a file reached through the image's own transport ({@link RemoteLog}).
 * Opening one marks it inconsistent on stable storage; only {@link #close} with {@code true} restores it.
 */
interface OpenLog {

    /** The log as it was when opened (before it was marked inconsistent). */
    CbtLog opened();

    /**
     * Stores bitmap word {@code word} (bits {@code 64*word ...}) as {@code value}, a superset of every value
     * stored for it before. Null when the store is done on return (in the page cache of a local file, which
     * outlives the process), else a future completing once the word is on the log's stable storage. Called
     * under the device's lock, so stores of one word come in increasing order.
     */
    CompletableFuture<Void> store(int word, long value);

    /** Whether stores have been made that a {@link #sync} would still have to make durable. */
    boolean unsynced();

    /** Makes every store so far durable (an msync); completes off the I/O threads. */
    CompletableFuture<Void> sync();

    /** Waits for stores in flight, writes the flag (durably) and releases the log. */
    void close(boolean consistent) throws IOException;

    String describe();
}
