package io.tapdisk4j.app;

import io.tapdisk4j.testsupport.Ports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One writer per image across processes: while another tapdisk4j process has a VHD open for writing (an NBD
 * export of it), snapshot, coalesce and resize in this process are refused naming that process; reading is
 * not; once it is gone (stopped by its pid) the snapshot goes through.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WriterLockAcrossProcessesTest {

    @TempDir
    Path dir;

    private static String[] run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(o, true, StandardCharsets.UTF_8));
            return new String[]{Integer.toString(Main.run(args)), o.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void aSecondWriterInThisProcessIsRefusedNamingTheOtherProcess() throws Exception {
        String uri = "file://" + dir.resolve("disk.vhd");
        assertEquals("0", run("vdi", "create", uri, "--size", "16M", "--format", "vhd")[0]);
        int port = Ports.free();
        String javaBin = ProcessHandle.current().info().command().orElseThrow();
        Process writer = new ProcessBuilder(javaBin, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "export", uri, "--port",
                Integer.toString(port)).redirectErrorStream(true).redirectOutput(dir.resolve("export.log").toFile())
                .start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!listening(port)) {
                assertTrue(writer.isAlive(), () -> "the export died: " + log());
                assertTrue(System.nanoTime() < deadline, "the export did not start");
                java.util.concurrent.locks.LockSupport.parkNanos(20_000_000L); // polling with a deadline
            }
            String holder = "pid " + writer.pid();
            for (List<String> cmd : List.of(List.of("vdi", "snapshot", uri), List.of("vdi", "resize", uri, "--size", "32M"))) {
                String[] r = run(cmd.toArray(String[]::new));
                assertEquals("1", r[0], r[1]);
                assertTrue(r[1].contains("already open for writing by " + holder) && r[1].contains("export"), r[1]);
            }
            String[] snapshot = run("vdi", "snapshot", uri);
            assertTrue(snapshot[1].contains("ctl snapshot"), snapshot[1]);
            assertEquals("0", run("vdi", "info", uri)[0], "a reader is not refused");
            try (var files = Files.list(dir)) {
                assertEquals(2, files.count(), "nothing was renamed or created (the image and the export's log)");
            }
        } finally {
            writer.destroy();
            assertTrue(writer.waitFor(30, TimeUnit.SECONDS));
        }
        String[] r = run("vdi", "snapshot", uri);
        assertEquals("0", r[0], r[1]);
    }

    private String log() {
        try {
            return Files.readString(dir.resolve("export.log"));
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }

    private static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
