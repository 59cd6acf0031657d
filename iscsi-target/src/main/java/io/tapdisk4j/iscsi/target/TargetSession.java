package io.tapdisk4j.iscsi.target;

import io.netty.channel.Channel;
import io.tapdisk4j.iscsi.target.scsi.Nexus;

/**
 * One normal session: its TSIH, the initiator port (the SCSI I_T nexus), the negotiated parameters and
 * the one connection it runs on (MaxConnections is 1). Commands, tasks and sequence numbers live in the
 * connection's {@link FullFeatureHandler}.
 */
final class TargetSession {

    private final Nexus nexus;
    private final NegotiatedParameters parameters;
    private volatile int tsih;
    private volatile Channel channel;

    TargetSession(Nexus nexus, NegotiatedParameters parameters) {
        this.nexus = nexus;
        this.parameters = parameters;
    }

    Nexus nexus() {
        return nexus;
    }

    NegotiatedParameters parameters() {
        return parameters;
    }

    int tsih() {
        return tsih;
    }

    void tsih(int t) {
        tsih = t;
    }

    Channel channel() {
        return channel;
    }

    void channel(Channel c) {
        channel = c;
    }

    /** Ends the session (reinstatement, target reset): its connection closes and its tasks end with it. */
    void close() {
        Channel c = channel;
        if (c != null) {
            c.close();
        }
    }
}
