package io.tapdisk4j.iscsi.session;

import io.tapdisk4j.iscsi.pdu.Pdu;

/**
 * The NOP-Out keepalive (RFC 7143 11.18): after {@code interval} without a PDU from the target, ping it; a
 * ping not answered within {@code timeout} means the connection is dead. Also keeps the session's coarse
 * clock (the time of the last tick), which command send times use. Loop-confined; times in nanoseconds.
 */
final class KeepAlive {

    enum Action { NONE, PING, DEAD }

    private final long intervalNanos;
    private final long timeoutNanos;
    private long lastReceived;
    private boolean receivedSinceTick;
    private long clock;
    private int pingItt = Pdu.RESERVED_TAG;
    private long pingSent;

    KeepAlive(long intervalNanos, long timeoutNanos) {
        this.intervalNanos = intervalNanos;
        this.timeoutNanos = timeoutNanos;
    }

    /** A new connection: nothing outstanding, the target counts as just heard from. */
    void start(long now) {
        pingItt = Pdu.RESERVED_TAG;
        lastReceived = now;
        clock = now;
        receivedSinceTick = false;
    }

    /** A PDU arrived (cheap: the time is taken at the next tick). */
    void received() {
        receivedSinceTick = true;
    }

    /** The time of the last tick (or start). */
    long clock() {
        return clock;
    }

    /** The tag of the ping in flight, {@link Pdu#RESERVED_TAG} when there is none. */
    int pingItt() {
        return pingItt;
    }

    /** Advances the clock to {@code now} and says whether to ping or to give up on the connection. */
    Action tick(long now) {
        clock = now;
        if (receivedSinceTick) {
            receivedSinceTick = false;
            lastReceived = now;
        }
        if (pingItt != Pdu.RESERVED_TAG) {
            return now - pingSent > timeoutNanos ? Action.DEAD : Action.NONE;
        }
        return now - lastReceived > intervalNanos ? Action.PING : Action.NONE;
    }

    /** A ping went out under {@code itt} at {@code now}. */
    void pinged(int itt, long now) {
        pingItt = itt;
        pingSent = now;
    }

    /** A NOP-In answering {@code itt} arrived. */
    void answered(int itt) {
        if (itt != Pdu.RESERVED_TAG && itt == pingItt) {
            pingItt = Pdu.RESERVED_TAG;
        }
    }
}
