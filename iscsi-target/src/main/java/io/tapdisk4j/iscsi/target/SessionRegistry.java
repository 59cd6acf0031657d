package io.tapdisk4j.iscsi.target;

import java.util.HashMap;
import java.util.Map;

/**
 * The sessions of one target, by TSIH and by initiator port (InitiatorName + ISID), for session
 * reinstatement at ERL 0 (RFC 7143 6.3.5): a new session of the same initiator port closes the old one.
 */
final class SessionRegistry {

    private record PortKey(String initiatorName, long isid) {
    }

    private final Map<Integer, TargetSession> byTsih = new HashMap<>();
    private final Map<PortKey, TargetSession> byPort = new HashMap<>();
    private int nextTsih = 1;
    private int nextDiscoveryTsih = 0x8000;

    /** Registers a new session; returns the session it replaces (to be closed by the caller) or null. */
    synchronized TargetSession add(TargetSession s) {
        do {
            s.tsih(nextTsih);
            nextTsih = (nextTsih + 1) & 0x7fff;
        } while (s.tsih() == 0 || byTsih.containsKey(s.tsih()));
        byTsih.put(s.tsih(), s);
        TargetSession old = byPort.put(new PortKey(s.nexus().initiatorName(), s.nexus().isid()), s);
        if (old != null) {
            byTsih.remove(old.tsih());
        }
        return old;
    }

    /**
     * A TSIH for a discovery session: never registered (a discovery session has no tasks to reinstate),
     * taken from the upper half of the range so it cannot name a normal session.
     */
    synchronized int discoveryTsih() {
        nextDiscoveryTsih = nextDiscoveryTsih == 0xffff ? 0x8000 : nextDiscoveryTsih + 1;
        return nextDiscoveryTsih;
    }

    synchronized TargetSession byTsih(int tsih) {
        return byTsih.get(tsih);
    }

    synchronized void remove(TargetSession s) {
        byTsih.remove(s.tsih(), s);
        byPort.remove(new PortKey(s.nexus().initiatorName(), s.nexus().isid()), s);
    }

    synchronized int size() {
        return byTsih.size();
    }

    synchronized java.util.List<TargetSession> all() {
        return java.util.List.copyOf(byTsih.values());
    }
}
