package io.tapdisk4j.testsupport;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AwaitTest {

    @Test
    void returnsOnceAnotherThreadMakesTheConditionTrue() {
        AtomicBoolean flag = new AtomicBoolean();
        CompletableFuture.runAsync(() -> flag.set(true), CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS));
        Await.until(flag::get, "the flag");
        assertTrue(flag.get());
    }

    @Test
    void failsNamingWhatItAwaitedAfterTheDeadline() {
        AssertionError e = assertThrows(AssertionError.class,
                () -> Await.until(() -> false, Duration.ofMillis(50), "a condition that never holds"));
        assertTrue(e.getMessage().contains("a condition that never holds"), e.getMessage());
        assertFalse(Await.holdsWithin(() -> false, Duration.ofMillis(10)));
    }
}
