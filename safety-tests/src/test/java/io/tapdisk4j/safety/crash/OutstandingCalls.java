package io.tapdisk4j.safety.crash;

import io.tapdisk4j.testsupport.proxy.Direction;
import io.tapdisk4j.testsupport.proxy.FaultAction;
import io.tapdisk4j.testsupport.proxy.FaultPolicy;
import io.tapdisk4j.testsupport.proxy.ProxyConnection;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeoutException;

/**
 * A proxy policy that forwards everything and keeps, per connection, the RPC calls (by xid) the server has
 * not answered yet. With upstream connections that outlive their client, a writer killed mid-stream still
 * gets every call it had sent answered by the server, and {@link #awaitAnswered} tells when: then nothing
 * the dead writer sent can still change the storage.
 */
final class OutstandingCalls implements FaultPolicy {

    private final Map<ProxyConnection, Set<Long>> unanswered = new HashMap<>();

    @Override
    public synchronized FaultAction decide(FrameEvent e) {
        if (e.direction() == Direction.TO_SERVER && e.kind().equals("rpc-call")) {
            unanswered.computeIfAbsent(e.connection(), c -> new HashSet<>()).add(e.tag());
        } else if (e.direction() == Direction.TO_CLIENT && e.kind().equals("rpc-reply")) {
            Set<Long> calls = unanswered.get(e.connection());
            if (calls != null && calls.remove(e.tag()) && calls.isEmpty()) {
                notifyAll();
            }
        }
        return FaultAction.FORWARD;
    }

    /** Waits until the server has answered every call forwarded on {@code c}. */
    synchronized void awaitAnswered(ProxyConnection c, Duration timeout) throws InterruptedException, TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Set<Long> calls;
        while ((calls = unanswered.get(c)) != null && !calls.isEmpty()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new TimeoutException(c + ": the server never answered calls " + calls);
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }
}
