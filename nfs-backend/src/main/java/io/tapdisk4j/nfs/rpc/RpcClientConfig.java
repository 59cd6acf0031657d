package io.tapdisk4j.nfs.rpc;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * How an {@link RpcClient} waits. {@code timeout}: no reply for this long and the call is sent again with the
 * same XID; after {@code timeoutsBeforeReconnect} such retransmissions with no reply at all the connection is
 * assumed dead and replaced. {@code hard}: retry forever (NFS hard mount); otherwise a call fails with
 * ETIMEDOUT once {@code softDeadline} has passed since it was made (soft mount). {@code clock} is a
 * nanosecond clock, replaceable in tests.
 */
public record RpcClientConfig(Duration timeout, boolean hard, Duration softDeadline, int maxRecordSize,
                              int timeoutsBeforeReconnect, int maxMalformed, LongSupplier clock) {

    /** Largest record accepted: a 1 MiB READ reply plus headers, with room for bigger rtmax servers. */
    public static final int DEFAULT_MAX_RECORD = 4 * 1024 * 1024 + 4096;

    public static RpcClientConfig defaults() {
        return new RpcClientConfig(Duration.ofSeconds(10), true, Duration.ofSeconds(60), DEFAULT_MAX_RECORD, 2, 3,
                System::nanoTime);
    }

    public RpcClientConfig withTimeout(Duration t) {
        return new RpcClientConfig(t, hard, softDeadline, maxRecordSize, timeoutsBeforeReconnect, maxMalformed, clock);
    }

    public RpcClientConfig withSoft(Duration deadline) {
        return new RpcClientConfig(timeout, false, deadline, maxRecordSize, timeoutsBeforeReconnect, maxMalformed, clock);
    }

    public RpcClientConfig withHard() {
        return new RpcClientConfig(timeout, true, softDeadline, maxRecordSize, timeoutsBeforeReconnect, maxMalformed, clock);
    }

    public RpcClientConfig withClock(LongSupplier c) {
        return new RpcClientConfig(timeout, hard, softDeadline, maxRecordSize, timeoutsBeforeReconnect, maxMalformed, c);
    }

    public RpcClientConfig withMaxRecordSize(int max) {
        return new RpcClientConfig(timeout, hard, softDeadline, max, timeoutsBeforeReconnect, maxMalformed, clock);
    }
}
