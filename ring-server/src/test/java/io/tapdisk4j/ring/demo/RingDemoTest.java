package io.tapdisk4j.ring.demo;

import io.tapdisk4j.ring.backend.DataPath;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

class RingDemoTest {

    @Test
    void demoVerifiesEveryBlock() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        boolean ok = RingDemo.run(new PrintStream(bytes, true, StandardCharsets.UTF_8), "memory:?size=64M",
                DataPath.COPY, 0.3);
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(ok, out);
        assertTrue(out.contains("every block read back as written"), out);
        assertTrue(out.contains("flush: ok, discard of 1 MiB: ok"), out);
    }
}
