package io.tapdisk4j.ring.hv;

/** A bound inter-domain event channel. */
public interface EventChannel extends AutoCloseable {

    int localPort();

    /** Sends one notification to the other end. */
    void notifyRemote() throws HypervisorException;

    /** Unbinds. */
    @Override
    void close();
}
