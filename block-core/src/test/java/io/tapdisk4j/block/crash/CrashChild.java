package io.tapdisk4j.block.crash;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A {@link CrashWriter} in a child JVM, read line by line and killed with SIGKILL by its pid. */
public final class CrashChild implements AutoCloseable {

    private final Process process;
    private final BufferedReader out;
    private final Path err;

    private CrashChild(Process process, Path err) {
        this.process = process;
        this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        this.err = err;
    }

    public static CrashChild start(Path workDir, String uri, WriteSchedule s, int depth) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), CrashWriter.class.getName(), uri,
                Integer.toString(depth)));
        cmd.addAll(s.args());
        Path err = Files.createTempFile(workDir, "crash-writer", ".err");
        Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
        return new CrashChild(p, err);
    }

    /** The next line the writer printed; fails with its stderr when it died instead. */
    public String line() throws IOException {
        String l = out.readLine();
        if (l == null) {
            throw new AssertionError("crash writer ended unexpectedly; stderr:\n" + Files.readString(err));
        }
        return l;
    }

    /**
     * Reads lines up to the {@code n}-th acknowledgement (or the writer's end) and returns the last write
     * acknowledged, -1 for none.
     */
    public int awaitAcks(int n) throws IOException {
        String first = line();
        if (!first.startsWith("READY")) {
            throw new AssertionError("crash writer: " + first);
        }
        int lastAck = -1;
        for (int acks = 0; acks < n; acks++) {
            String l = line();
            if (l.equals("DONE")) {
                break;
            }
            if (!l.startsWith("ACK ")) {
                throw new AssertionError("crash writer: " + l);
            }
            lastAck = Integer.parseInt(l.substring(4));
        }
        return lastAck;
    }

    /** SIGKILL (by pid), then waits for it to be gone. */
    public void kill() throws InterruptedException {
        process.toHandle().destroyForcibly();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            throw new AssertionError("crash writer pid " + process.pid() + " survived SIGKILL");
        }
    }

    @Override
    public void close() throws IOException {
        if (process.isAlive()) {
            process.toHandle().destroyForcibly();
        }
        out.close();
    }
}
