package io.tapdisk4j.ring.backend;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.Logger;

import java.lang.reflect.Proxy;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Refused requests are logged so a user sees why a guest's I/O failed, but a hostile guest cannot flood
 * dom0's log: at most N lines a second, the rest counted and summarized in the next line that gets through.
 */
@Timeout(20)
class RateLimitedLogTest {

    /** A logger that records what {@code warn(format, args...)} would print. */
    private static Logger recording(List<String> lines) {
        return (Logger) Proxy.newProxyInstance(Logger.class.getClassLoader(), new Class<?>[]{Logger.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("warn") && args != null && args[0] instanceof String format) {
                        Object[] values = args.length == 2 && args[1] instanceof Object[] a ? a
                                : java.util.Arrays.copyOfRange(args, 1, args.length);
                        String line = format;
                        for (Object v : values) {
                            line = line.replaceFirst("\\{}", java.util.regex.Matcher.quoteReplacement(String.valueOf(v)));
                        }
                        lines.add(line);
                    }
                    return method.getReturnType() == boolean.class ? Boolean.TRUE : null;
                });
    }

    @Test
    void atMostNLinesASecondAndTheRestSummarized() {
        List<String> lines = new CopyOnWriteArrayList<>();
        RateLimitedLog log = new RateLimitedLog(recording(lines), "vbd3/1/768", 3);
        for (int i = 0; i < 10; i++) {
            log.warn("queue 0: READ id=" + i + ": no segments");
        }
        assertEquals(List.of("vbd3/1/768: queue 0: READ id=0: no segments", "vbd3/1/768: queue 0: READ id=1: no segments",
                "vbd3/1/768: queue 0: READ id=2: no segments"), lines);
        assertEquals(7, log.suppressed());
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (lines.size() == 3 && System.nanoTime() < deadline) {
            log.warn("queue 0: READ id=99: no segments"); // counted until the next second's window opens
            Thread.onSpinWait();
        }
        String summary = lines.get(3);
        assertTrue(summary.startsWith("vbd3/1/768: queue 0: READ id=99: no segments ("), summary);
        assertTrue(summary.endsWith(" similar messages suppressed)"), summary);
        long n = Long.parseLong(summary.substring(summary.lastIndexOf('(') + 1, summary.indexOf(' ', summary.lastIndexOf('('))));
        assertTrue(n >= 7, summary);
        assertEquals(0, log.suppressed());
    }
}
