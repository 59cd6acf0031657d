package io.tapdisk4j.block.local;

import java.util.concurrent.atomic.AtomicLong;

/**
 * When a file's buffered writes should start going to the disk: after every {@code every} bytes written
 * through the page cache. Left to itself the kernel starts writing back only past vm.dirty_background_ratio
 * (here 10% of 24 GB, 2.4 GB), so a guest could hold gigabytes dirty and its next flush then waited for all of
 * them at once, with the disk idle until that flush. Bounding what waits keeps the disk busy while the
 * guest writes and a flush short.
 */
final class WritebackTrigger {

    /**
     * 32 MiB: through the NBD export, fio ending with a flush, 1 GiB into a qcow2 image, 3 alternating rounds
     * (2026-12-07): random 64 KiB rewrites 559-896 MB/s against 291-730 without it, sequential 1 MiB rewrites
     * 1285-1339 against 845-916; first writes 138-238 against 124-205.
     */
    static final long DEFAULT_EVERY = 32L << 20;

    private final long every;
    private final AtomicLong sinceLast = new AtomicLong();
    private final AtomicLong started = new AtomicLong();
    private volatile boolean callerHints;

    /** {@code every} of 0 or less: never (the kernel's own writeback only). */
    WritebackTrigger(long every) {
        this.every = every;
    }

    /** Counts a buffered write of {@code bytes} that completed; true for the one write that should start writeback. */
    boolean wrote(long bytes) {
        if (every <= 0 || callerHints) {
            return false;
        }
        long since = sinceLast.addAndGet(bytes);
        // Of writes completing together, the one whose count is still the latest starts it; the others' bytes
        // count towards the next.
        if (since >= every && sinceLast.compareAndSet(since, 0)) {
            started.incrementAndGet();
            return true;
        }
        return false;
    }

    /**
     * The writer names the ranges to write back itself (a copy, behind each chunk it finished): from now on this
     * trigger leaves it to the writer, instead of scanning the whole file for the same pages again.
     */
    void callerHints() {
        callerHints = true;
    }

    /** How many times writeback was started (for tests and metrics). */
    long started() {
        return started.get();
    }
}
