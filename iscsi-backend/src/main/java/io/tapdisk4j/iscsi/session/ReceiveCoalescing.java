package io.tapdisk4j.iscsi.session;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.unix.IntegerUnixChannelOption;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.ToIntFunction;

/**
 * Receive coalescing on one connection, like a NIC's interrupt moderation. With many reads in flight whose
 * Data-In arrives close together, the socket's low-water mark (SO_RCVLOWAT) is raised to the bytes of two PDUs,
 * so that the event loop wakes once for two or more. On loopback a wake-up is the costliest part of receiving
 * a PDU for both ends: our thread's switch in, and the sender's wake-up call and window updates; in the iSCSI
 * benchmark fewer of them let tgtd serve half again as many 128 KiB reads.
 *
 * <p>The mark counts on reads completing as they usually do: a failed read's short response, a stalled target
 * or a target's ping could leave it unmet. Coalescing is used only while at least {@link #MIN_IN_FLIGHT}
 * tasks are in flight and PDUs arrive less than {@link #COALESCE_BELOW_NANOS} apart, so waiting for a second
 * PDU adds about that much latency at most, and a slow or shallow stream never waits. Should the mark go
 * unmet for {@link #FALLBACK_NANOS}, a timer drops it to one byte (Linux then wakes the loop for whatever is
 * there). That timer is armed once and re-armed lazily, not at every wake-up: a sub-millisecond timer re-armed
 * at every wake-up measured 2 to 3 us of CPU per read here, most of what coalescing saves. Event-loop confined.
 */
final class ReceiveCoalescing {

    /** SOL_SOCKET and SO_RCVLOWAT as Linux defines them for x86-64 and arm64 (asm-generic/socket.h). */
    static final IntegerUnixChannelOption SO_RCVLOWAT = new IntegerUnixChannelOption("SO_RCVLOWAT", 1, 18);
    static final long COALESCE_BELOW_NANOS = TimeUnit.MICROSECONDS.toNanos(250);
    static final long FALLBACK_NANOS = TimeUnit.MILLISECONDS.toNanos(4);
    static final int MIN_IN_FLIGHT = 4;
    /** Past this the mark stops growing: a wake-up per megabyte costs nothing worth saving. */
    static final int MAX_MARK = 1 << 20;

    private final Channel channel;
    private final long fallbackNanos;
    private final LongSupplier clock;
    private boolean supported = true;
    private int mark = 1;
    /** Whether the mark reaches past the bytes certain to come, and since when (the latest batch's end). */
    private boolean waiting;
    private long waitingSince;
    private ScheduledFuture<?> fallback;
    private int fallbacks;
    private int pdus;
    private long lastBatchEnd;
    /** Moving average of the time between PDUs, as measured at the ends of read batches. */
    private long nanosPerPdu = Long.MAX_VALUE;

    ReceiveCoalescing(Channel channel) {
        this(channel, FALLBACK_NANOS, System::nanoTime);
    }

    ReceiveCoalescing(Channel channel, long fallbackNanos, LongSupplier clock) {
        this.channel = channel;
        this.fallbackNanos = fallbackNanos;
        this.clock = clock;
        this.lastBatchEnd = clock.getAsLong();
    }

    void onPdu() {
        pdus++;
    }

    /** At the end of a read batch: whether depth and arrival rate make waiting for two PDUs worth it. */
    boolean worthCoalescing(int inFlight) {
        long now = clock.getAsLong();
        if (pdus > 0) {
            // An idle gap counts as at most a few milliseconds, so the average recovers within a few batches.
            long sample = Math.min((now - lastBatchEnd) / pdus, 8 * COALESCE_BELOW_NANOS);
            nanosPerPdu = nanosPerPdu == Long.MAX_VALUE ? sample : nanosPerPdu + ((sample - nanosPerPdu) >> 2);
            pdus = 0;
        }
        lastBatchEnd = now;
        return supported && inFlight >= MIN_IN_FLIGHT && nanosPerPdu <= COALESCE_BELOW_NANOS;
    }

    /**
     * At the end of a read batch: wake next when {@code wanted} bytes are queued, of which {@code certain} are
     * sure to come (the rest of a PDU in progress, else 0).
     */
    void expect(int certain, int wanted) {
        int next = Math.max(1, Math.min(MAX_MARK, Math.max(certain, wanted)));
        setMark(next);
        waiting = mark > Math.max(1, certain);
        if (waiting) {
            waitingSince = lastBatchEnd;
            if (fallback == null) {
                fallback = channel.eventLoop().schedule(this::checkWait, fallbackNanos, TimeUnit.NANOSECONDS);
            }
        }
    }

    /**
     * The bytes of the two smallest next PDUs among {@code items} (a PDU in progress counted whole): with at least
     * {@link #MIN_IN_FLIGHT} tasks in flight, reads that complete as asked always bring that much.
     */
    static <T> int twoSmallest(Iterable<T> items, ToIntFunction<T> nextPduBytes) {
        int smallest = Integer.MAX_VALUE;
        int second = Integer.MAX_VALUE;
        for (T item : items) {
            int n = nextPduBytes.applyAsInt(item);
            if (n < smallest) {
                second = smallest;
                smallest = n;
            } else if (n < second) {
                second = n;
            }
        }
        return (int) Math.min(Integer.MAX_VALUE, (long) smallest + second);
    }

    /** The connection is going away: no timer left behind. */
    void stop() {
        if (fallback != null) {
            fallback.cancel(false);
            fallback = null;
        }
    }

    int mark() {
        return mark;
    }

    /** How often the fallback timer found the mark unmet and dropped it. */
    int fallbacks() {
        return fallbacks;
    }

    boolean fallbackPending() {
        return fallback != null;
    }

    private void checkWait() {
        fallback = null;
        if (!waiting) {
            return;
        }
        long waited = clock.getAsLong() - waitingSince;
        if (waited >= fallbackNanos) {
            waiting = false;
            fallbacks++;
            setMark(1);
        } else {
            fallback = channel.eventLoop().schedule(this::checkWait, fallbackNanos - waited, TimeUnit.NANOSECONDS);
        }
    }

    private void setMark(int next) {
        if (next == mark || !supported || !channel.isOpen()) {
            return;
        }
        try {
            supported = channel.config().setOption(SO_RCVLOWAT, next);
        } catch (ChannelException e) {
            supported = false;
        }
        mark = supported ? next : 1;
    }
}
