package io.tapdisk4j.iscsi.session;

import io.tapdisk4j.iscsi.pdu.Pdu;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class KeepAliveTest {

    private static final long INTERVAL = 1000;
    private static final long TIMEOUT = 300;

    @Test
    void pingsAfterAnIntervalOfSilenceOnly() {
        KeepAlive k = new KeepAlive(INTERVAL, TIMEOUT);
        k.start(0);
        assertEquals(KeepAlive.Action.NONE, k.tick(500));
        k.received();
        assertEquals(KeepAlive.Action.NONE, k.tick(900), "heard from at 900");
        assertEquals(KeepAlive.Action.NONE, k.tick(1800));
        assertEquals(KeepAlive.Action.PING, k.tick(1901));
        assertEquals(1901, k.clock());
    }

    @Test
    void anUnansweredPingMeansADeadConnection() {
        KeepAlive k = new KeepAlive(INTERVAL, TIMEOUT);
        k.start(0);
        assertEquals(KeepAlive.Action.PING, k.tick(1001));
        k.pinged(7, 1001);
        assertEquals(7, k.pingItt());
        assertEquals(KeepAlive.Action.NONE, k.tick(1200), "one ping at a time");
        assertEquals(KeepAlive.Action.DEAD, k.tick(1302));
    }

    @Test
    void anAnswerClearsThePing() {
        KeepAlive k = new KeepAlive(INTERVAL, TIMEOUT);
        k.start(0);
        k.tick(1001);
        k.pinged(7, 1001);
        k.answered(8); // someone else's tag
        assertEquals(7, k.pingItt());
        k.answered(Pdu.RESERVED_TAG);
        assertEquals(7, k.pingItt());
        k.received();
        k.answered(7);
        assertEquals(Pdu.RESERVED_TAG, k.pingItt());
        assertEquals(KeepAlive.Action.NONE, k.tick(1500));
        assertEquals(KeepAlive.Action.PING, k.tick(2501));
    }

    @Test
    void aNewConnectionStartsClean() {
        KeepAlive k = new KeepAlive(INTERVAL, TIMEOUT);
        k.start(0);
        k.tick(1001);
        k.pinged(7, 1001);
        k.start(5000);
        assertEquals(Pdu.RESERVED_TAG, k.pingItt());
        assertEquals(KeepAlive.Action.NONE, k.tick(5500));
    }
}
