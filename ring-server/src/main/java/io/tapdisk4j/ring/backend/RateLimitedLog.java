package io.tapdisk4j.ring.backend;

import org.slf4j.Logger;

/**
 * At most {@code perSecond} warnings per second per device; the rest are counted and summarized in the
 * next line that gets through, so a hostile guest cannot flood dom0's logs.
 */
final class RateLimitedLog {

    private final Logger log;
    private final String prefix;
    private final int perSecond;
    private long windowStart;
    private int inWindow;
    private long suppressed;

    RateLimitedLog(Logger log, String prefix, int perSecond) {
        this.log = log;
        this.prefix = prefix;
        this.perSecond = perSecond;
    }

    synchronized void warn(String message) {
        long now = System.nanoTime();
        if (now - windowStart > 1_000_000_000L) {
            windowStart = now;
            inWindow = 0;
        }
        if (inWindow >= perSecond) {
            suppressed++;
            return;
        }
        inWindow++;
        if (suppressed > 0) {
            log.warn("{}: {} ({} similar messages suppressed)", prefix, message, suppressed);
            suppressed = 0;
        } else {
            log.warn("{}: {}", prefix, message);
        }
    }

    synchronized long suppressed() {
        return suppressed;
    }
}
