package io.tapdisk4j.rbd;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.internal.ThreadExecutorMap;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Hands librbd's completions to one event loop in batches: librbd's finisher thread queues each result and
 * schedules one drain task only when none is pending, so a burst of completions costs the loop one task and
 * at most one wake-up instead of one each.
 */
final class CompletionQueue implements Runnable {

    /** The queue of the event loop a thread belongs to, made on first use there. */
    private static final FastThreadLocal<CompletionQueue> OF_LOOP = new FastThreadLocal<>() {
        @Override
        protected CompletionQueue initialValue() {
            EventExecutor current = ThreadExecutorMap.currentExecutor();
            return current == null ? null : new CompletionQueue(current);
        }
    };

    /** A result waiting for its loop. */
    static final class Delivery {
        final AioCompletions.Done done;
        long rc;

        Delivery(AioCompletions.Done done) {
            this.done = done;
        }
    }

    private final EventExecutor loop;
    private final Queue<Delivery> results = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean scheduled = new AtomicBoolean();

    CompletionQueue(EventExecutor loop) {
        this.loop = loop;
    }

    /**
     * The queue of the calling thread's event loop when it runs on one (a frontend's channel submitting: the
     * result then comes back to the thread that answers the client, with no second hop), else {@code fallback}.
     */
    static CompletionQueue forCaller(CompletionQueue fallback) {
        CompletionQueue q = OF_LOOP.get();
        return q != null ? q : fallback;
    }

    /** Called on librbd's thread. */
    void deliver(Delivery d) {
        results.offer(d);
        if (!scheduled.get() && scheduled.compareAndSet(false, true)) {
            try {
                loop.execute(this);
            } catch (RejectedExecutionException shutDown) {
                run(); // the loop is gone (process exit): complete here rather than never
            }
        }
    }

    /** Drains on the loop. Clearing the flag first means a result queued meanwhile schedules another drain. */
    @Override
    public void run() {
        scheduled.set(false);
        Delivery d;
        while ((d = results.poll()) != null) {
            d.done.complete(d.rc);
        }
    }
}
