package io.tapdisk4j.app;

import io.tapdisk4j.app.daemon.Daemon;
import io.tapdisk4j.app.daemon.DaemonOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The picocli side of {@code serve} and {@code ctl}: options, and ctl talking to a daemon. */
class ServeAndCtlCommandTest {

    @TempDir
    Path dir;

    private static String[] run(Object command, String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int rc = new CommandLine(command).execute(args);
            return new String[]{Integer.toString(rc), o.toString(StandardCharsets.UTF_8),
                    e.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void ctlListsAndReportsErrorsWithExitStatus() throws Exception {
        Path sim = dir.resolve("sim");
        try (Daemon d = Daemon.start(DaemonOptions.sim(sim))) {
            String[] list = run(new CtlCommand(), "--sim", sim.toString(), "list");
            assertEquals("0", list[0], list[2]);
            assertTrue(list[1].startsWith("DOMAIN DEVICE"), list[1]);
            String[] json = run(new CtlCommand(), "--socket", d.controlSocket().toString(), "--json", "stats");
            assertEquals("0", json[0], json[2]);
            assertEquals("[]\n", json[1]);
            String[] bad = run(new CtlCommand(), "--sim", sim.toString(), "detach", "3/768");
            assertEquals("1", bad[0]);
            assertTrue(bad[2].contains("no device vbd3/3/768"), bad[2]);
        }
        String[] down = run(new CtlCommand(), "--sim", sim.toString(), "list");
        assertNotEquals("0", down[0]);
        assertTrue(down[2].contains("no tapdisk4j daemon answers on"), down[2]);
    }

    @Test
    void serveNeedsExactlyOneOfSimAndXen() {
        assertNotEquals("0", run(new ServeCommand())[0]);
        assertNotEquals("0", run(new ServeCommand(), "--sim", dir.toString(), "--xen")[0]);
    }

    @Test
    void metricsAddressParsing() {
        assertEquals(new InetSocketAddress("127.0.0.1", 9464), ServeCommand.parseMetrics("127.0.0.1:9464"));
        assertNull(ServeCommand.parseMetrics(null));
        assertThrows(IllegalArgumentException.class, () -> ServeCommand.parseMetrics("9464"));
    }
}
