package io.tapdisk4j.rbd;

import io.tapdisk4j.block.BlockDeviceException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodType;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * librbd completions ({@code rbd_completion_t}) whose callback hands the result to an event loop through its
 * {@link CompletionQueue} (batched). One upcall stub serves every request: librbd calls it on its own finisher
 * thread with the completion and an argument that is a number, not a pointer, naming the pending request here.
 * No thread waits for any request.
 */
final class AioCompletions {

    private static final Logger LOG = LoggerFactory.getLogger(AioCompletions.class);

    /** Runs on the request's event loop with librbd's return value (bytes, or a negative errno). */
    @FunctionalInterface
    interface Done {
        void complete(long rc);
    }

    private record Pending(CompletionQueue queue, CompletionQueue.Delivery delivery) {
    }

    /** A completion handed to librbd. {@link #abandon} it when the submitting call fails. */
    record Completion(long id, MemorySegment handle) {
    }

    private static final ConcurrentHashMap<Long, Pending> PENDING = new ConcurrentHashMap<>();
    private static final AtomicLong NEXT = new AtomicLong();
    private static final ThreadLocal<MemorySegment> OUT = ThreadLocal.withInitial(() -> Arena.global().allocate(ValueLayout.ADDRESS));
    private static final MemorySegment CALLBACK = Native.upcall(java.lang.invoke.MethodHandles.lookup(), "onComplete",
            MethodType.methodType(void.class, MemorySegment.class, MemorySegment.class), Native.COMPLETION_CALLBACK);

    private AioCompletions() {
    }

    static Completion create(CompletionQueue queue, Done done) throws BlockDeviceException {
        long id = NEXT.incrementAndGet();
        PENDING.put(id, new Pending(queue, new CompletionQueue.Delivery(done)));
        MemorySegment out = OUT.get();
        int rc;
        try {
            rc = (int) Native.Aio.RBD_AIO_CREATE_COMPLETION.invokeExact(MemorySegment.ofAddress(id), CALLBACK, out);
        } catch (Throwable t) {
            PENDING.remove(id);
            throw new IllegalStateException(t);
        }
        if (rc < 0) {
            PENDING.remove(id);
            throw RbdErrors.io("rbd_aio_create_completion", rc);
        }
        return new Completion(id, out.get(ValueLayout.ADDRESS, 0));
    }

    /** The submitting call failed, so librbd will never call back: forget the request and free the completion. */
    static void abandon(Completion c) {
        PENDING.remove(c.id());
        release(c.handle());
    }

    /** Requests submitted and not yet called back (for tests and close). */
    static int pending() {
        return PENDING.size();
    }

    /** librbd's callback: must never throw into native code. */
    @SuppressWarnings("unused")
    private static void onComplete(MemorySegment completion, MemorySegment arg) {
        try {
            long rc = (long) Native.Aio.RBD_AIO_GET_RETURN_VALUE.invokeExact(completion);
            release(completion);
            Pending p = PENDING.remove(arg.address());
            if (p == null) {
                return;
            }
            p.delivery().rc = rc;
            p.queue().deliver(p.delivery());
        } catch (Throwable t) {
            LOG.error("rbd completion callback failed", t);
        }
    }

    private static void release(MemorySegment completion) {
        try {
            Native.Aio.RBD_AIO_RELEASE.invokeExact(completion);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
