package io.tapdisk4j.iscsi.session;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReconnectBackoffTest {

    @Test
    void delaysDoubleFromTwentyMillisecondsUpToOneSecond() {
        ReconnectBackoff b = new ReconnectBackoff(60_000_000_000L);
        b.start(0);
        List<Long> delays = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            delays.add(b.nextDelayMillis());
        }
        assertEquals(List.of(20L, 40L, 80L, 160L, 320L, 640L, 1000L, 1000L, 1000L), delays);
        b.start(0);
        assertEquals(20L, b.nextDelayMillis(), "a new recovery starts over");
    }

    @Test
    void givesUpAfterTheRecoveryTime() {
        ReconnectBackoff b = new ReconnectBackoff(5_000);
        b.start(1_000);
        assertFalse(b.expired(6_000));
        assertTrue(b.expired(6_001));
    }
}
