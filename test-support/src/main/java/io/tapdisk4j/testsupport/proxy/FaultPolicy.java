package io.tapdisk4j.testsupport.proxy;

/** Decides the fate of each frame; called on the connection's event loop, in stream order. */
@FunctionalInterface
public interface FaultPolicy {

    FaultAction decide(FrameEvent event);

    FaultPolicy FORWARD_ALL = e -> FaultAction.FORWARD;

    /** Forwards what clients send and applies {@code action} to every reply: a stalled, slow or silent server. */
    static FaultPolicy replies(FaultAction action) {
        return e -> e.toServer() ? FaultAction.FORWARD : action;
    }

    /**
     * One frame passing through: its connection (numbered from 0 in accept order), direction, its
     * position in that direction of that connection (from 0), and the frame itself (read, don't keep).
     */
    record FrameEvent(ProxyConnection connection, Direction direction, long sequence, Frame frame) {

        public boolean toServer() {
            return direction == Direction.TO_SERVER;
        }

        public String kind() {
            return frame.kind();
        }

        public long tag() {
            return frame.tag();
        }
    }
}
