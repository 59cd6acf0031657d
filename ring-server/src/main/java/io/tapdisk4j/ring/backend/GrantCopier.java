package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantStatus;
import io.tapdisk4j.ring.hv.HypervisorException;

/**
 * One ring's grant-copy batch (one ioctl per request on Xen): callers queue segments, then {@link #run}
 * executes them and turns a failed segment into a {@link GrantException} naming it. Ring thread only.
 */
final class GrantCopier {

    final GrantCopyBatch batch;
    private final RingCounters counters;

    GrantCopier(GrantCopyBatch batch, RingCounters counters) {
        this.batch = batch;
        this.counters = counters;
    }

    /** An empty batch to queue segments into. */
    GrantCopyBatch begin() {
        batch.clear();
        return batch;
    }

    /** Executes the queued segments; throws for the first that failed. The batch is empty afterwards. */
    void run(String what) throws GrantException {
        int n = batch.size();
        if (n > 0) {
            counters.grantCopyBatch(n);
        }
        try {
            batch.execute();
        } catch (HypervisorException e) {
            batch.clear();
            throw new GrantException(GrantStatus.GENERAL_ERROR, "grant copy of " + what + " failed: " + e.getMessage());
        }
        for (int i = 0; i < batch.size(); i++) {
            int st = batch.status(i);
            if (st != GrantStatus.OKAY) {
                batch.clear();
                throw new GrantException(st, "grant copy of " + what + " " + i + " failed");
            }
        }
        batch.clear();
    }
}
