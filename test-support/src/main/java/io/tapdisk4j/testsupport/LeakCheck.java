package io.tapdisk4j.testsupport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.ArrayList;
import java.util.List;

/**
 * Fails a test class when Netty reported a leaked buffer while it ran. Registered for every test class
 * through JUnit's extension auto-detection (META-INF/services in block-core's test jar).
 */
public final class LeakCheck implements AfterAllCallback {

    @Override
    public void afterAll(ExtensionContext context) {
        if (ResourceLeakDetector.getLevel() != ResourceLeakDetector.Level.PARANOID) {
            throw new AssertionError("tests must run with -Dio.netty.leakDetection.level=PARANOID (the parent pom sets it)");
        }
        List<String> leaks = collectLeaks();
        if (!leaks.isEmpty()) {
            throw new AssertionError(leaks.size() + " buffer leak(s) during " + context.getDisplayName() + ":\n"
                    + String.join("\n", leaks));
        }
    }

    /** Collects garbage, lets the detector look, and returns (and forgets) every leak reported so far. */
    public static List<String> collectLeaks() {
        // Leaks are noticed when a buffer is collected and the next buffer is tracked: collect, then allocate.
        for (int i = 0; i < 3 && FailingLeakDetector.LEAKS.isEmpty(); i++) {
            System.gc();
            for (int j = 0; j < 64; j++) {
                ByteBuf probe = PooledByteBufAllocator.DEFAULT.directBuffer(16);
                probe.release();
            }
        }
        List<String> leaks = new ArrayList<>(FailingLeakDetector.LEAKS);
        FailingLeakDetector.LEAKS.removeAll(leaks);
        return leaks;
    }
}
