package io.tapdisk4j.testsupport.proxy;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A frame the proxy is holding for the test: released later (possibly after the client has reconnected
 * and the request completed elsewhere: the stale retransmission), or discarded.
 */
public final class HeldFrame {

    private final ProxyConnection connection;
    private final Direction direction;
    private final long sequence;
    private final Frame frame;
    private final AtomicBoolean done = new AtomicBoolean();

    HeldFrame(ProxyConnection connection, Direction direction, long sequence, Frame frame) {
        this.connection = connection;
        this.direction = direction;
        this.sequence = sequence;
        this.frame = frame;
    }

    public ProxyConnection connection() {
        return connection;
    }

    public Direction direction() {
        return direction;
    }

    public long sequence() {
        return sequence;
    }

    public String kind() {
        return frame.kind();
    }

    public long tag() {
        return frame.tag();
    }

    public int length() {
        return frame.length();
    }

    /**
     * Sends the frame on where it was going. Completes true once written to the socket, false when that
     * side of the connection is already closed (the frame is then dropped).
     */
    public CompletableFuture<Boolean> release() {
        if (!done.compareAndSet(false, true)) {
            throw new IllegalStateException("frame already released or discarded: " + this);
        }
        return connection.send(direction, frame);
    }

    public void discard() {
        if (done.compareAndSet(false, true)) {
            frame.release();
        }
    }

    @Override
    public String toString() {
        return "held " + frame + " on connection " + connection.index() + " " + direction + " #" + sequence;
    }
}
