package io.tapdisk4j.testsupport.proxy;

import io.netty.buffer.ByteBuf;

import java.time.Duration;
import java.util.function.UnaryOperator;

/** What the proxy does with one frame. */
public sealed interface FaultAction {

    FaultAction FORWARD = new Forward();
    FaultAction DROP = new Drop();
    FaultAction HOLD = new Hold();
    FaultAction DUPLICATE = new Duplicate();
    FaultAction REORDER = new Reorder();
    FaultAction CUT = new Cut(false);
    FaultAction CUT_CLIENT_SIDE = new Cut(true);

    static FaultAction delay(Duration d) {
        return new Delay(d);
    }

    /**
     * Sends {@code rewrite.apply(bytes)} instead of the frame: garbage, truncated or oversized messages
     * from a lying server. The function gets a retained copy it may release or return.
     */
    static FaultAction replace(UnaryOperator<ByteBuf> rewrite) {
        return new Replace(rewrite);
    }

    /** Passes the frame on unchanged. */
    record Forward() implements FaultAction {
    }

    /** Swallows the frame (the stream stays open: the peer never sees this message). */
    record Drop() implements FaultAction {
    }

    /** Keeps the frame until the test releases (or discards) its {@link HeldFrame}. */
    record Hold() implements FaultAction {
    }

    /** Sends the frame after {@code delay}; later frames overtake it. */
    record Delay(Duration delay) implements FaultAction {
    }

    /** Sends the frame twice. */
    record Duplicate() implements FaultAction {
    }

    /** Sends the frame after the next frame in the same direction (or after 100 ms if none comes). */
    record Reorder() implements FaultAction {
    }

    /**
     * Closes the connection instead of sending the frame (which is dropped). {@code clientSideOnly}:
     * the upstream connection to the server stays open, so frames held for it can still be released
     * after the client has given up and reconnected.
     */
    record Cut(boolean clientSideOnly) implements FaultAction {
    }

    record Replace(UnaryOperator<ByteBuf> rewrite) implements FaultAction {
    }
}
