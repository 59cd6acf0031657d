package io.tapdisk4j.testsupport;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A peer server started by a test: its output goes to a log file (quoted on failure), and it is stopped
 * by its pid (from its pid file when it daemonizes, else the child's own pid).
 */
public final class PeerProcess implements AutoCloseable {

    private final String name;
    private final Process process;
    private final Path log;
    private final Path pidFile;

    private PeerProcess(String name, Process process, Path log, Path pidFile) {
        this.name = name;
        this.process = process;
        this.log = log;
        this.pidFile = pidFile;
    }

    /** Starts {@code command}; {@code pidFile}, when not null, is where a daemonizing peer writes its pid. */
    public static PeerProcess start(String name, List<String> command, Path workDir, Path pidFile) throws IOException {
        Files.createDirectories(workDir);
        Path log = workDir.resolve(name + ".log");
        ProcessBuilder pb = new ProcessBuilder(command).directory(workDir.toFile())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        return new PeerProcess(name, pb.start(), log, pidFile);
    }

    public Process process() {
        return process;
    }

    public Path log() {
        return log;
    }

    public String logText() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Waits for a daemonizing peer's launcher to exit successfully (for example {@code qemu-nbd --fork}). */
    public void awaitLauncherExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError(name + " did not finish starting within " + timeout + "; log:\n" + logText());
        }
        if (process.exitValue() != 0) {
            throw new AssertionError(name + " failed to start (status " + process.exitValue() + "); log:\n" + logText());
        }
    }

    public Optional<Long> pid() {
        if (pidFile != null) {
            try {
                if (Files.exists(pidFile)) {
                    String s = Files.readString(pidFile).trim();
                    if (!s.isEmpty()) {
                        return Optional.of(Long.parseLong(s));
                    }
                }
            } catch (IOException | NumberFormatException e) {
                return Optional.empty();
            }
            return Optional.empty();
        }
        return Optional.of(process.pid());
    }

    /** SIGKILL by pid, and wait for the process to be gone. */
    public void kill() {
        stop(true);
    }

    private void stop(boolean force) {
        pid().flatMap(ProcessHandle::of).ifPresent(h -> {
            if (force) {
                h.destroyForcibly();
            } else {
                h.destroy();
            }
            try {
                h.onExit().get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                h.destroyForcibly();
            }
        });
        if (process.isAlive()) {
            process.destroyForcibly();
        }
    }

    /** SIGTERM by pid (SIGKILL if it lingers). */
    @Override
    public void close() {
        stop(false);
    }
}
