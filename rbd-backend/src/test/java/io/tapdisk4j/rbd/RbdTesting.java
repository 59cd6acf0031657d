package io.tapdisk4j.rbd;

import java.util.concurrent.atomic.AtomicInteger;

/** Names for the rbd tests' images (device I/O helpers: block-core's {@code DeviceIo}). */
final class RbdTesting {

    private static final AtomicInteger NEXT = new AtomicInteger();

    private RbdTesting() {
    }

    /** An image name no other test of this JVM uses. */
    static String name(String prefix) {
        return prefix + "-" + ProcessHandle.current().pid() + "-" + NEXT.incrementAndGet();
    }
}
