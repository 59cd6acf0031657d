package io.tapdisk4j.testsupport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The leak check must see a leak, or "no leaks" in every other test means nothing. */
class LeakCheckTest {

    @Test
    void seesALeakedBuffer() {
        assertTrue(collectUntilLeakSeen().stream().anyMatch(s -> s.contains("leaked")));
        assertTrue(LeakCheck.collectLeaks().isEmpty(), "reports are consumed once");
    }

    private static List<String> collectUntilLeakSeen() {
        leakOne();
        // Collection of the leaked buffer is up to the GC; a few rounds make it certain in practice.
        for (int round = 0; round < 20; round++) {
            List<String> leaks = LeakCheck.collectLeaks();
            if (!leaks.isEmpty()) {
                return leaks;
            }
        }
        return List.of();
    }

    private static void leakOne() {
        ByteBuf leaked = PooledByteBufAllocator.DEFAULT.directBuffer(64);
        leaked.writeLong(42);
        assertFalse(leaked.refCnt() == 0);
        // dropped without release()
    }
}
