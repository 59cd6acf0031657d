package io.tapdisk4j.testsupport.peers;

import io.tapdisk4j.testsupport.PeerProcess;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.testsupport.Ports;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A tgtd of a test's own on 127.0.0.1 (its own control port, a free portal port), configured with
 * tgtadm and stopped by its pid, as /work/shared/peers.md describes. {@link #restart} brings it back on
 * the same port with the same targets (what a fault test needs after {@link #kill}). tgtd refuses control ports above
 * 32767.
 */
public final class Tgtd implements AutoCloseable {

    public static final String IQN = "iqn.2026-11.io.tapdisk4j.test:disk1";

    private final Path dir;
    private final int port;
    private final int control;
    private final List<String> environment;
    private final List<List<String>> setup = new ArrayList<>();
    private PeerProcess process;

    private Tgtd(Path dir, int port, int control, List<String> environment) {
        this.dir = dir;
        this.port = port;
        this.control = control;
        this.environment = List.copyOf(environment);
    }

    public static Tgtd start(Path dir) throws IOException {
        return start(dir, List.of());
    }

    /** A tgtd with extra environment variables ({@code NAME=value}), for instance glibc tunables. */
    public static Tgtd start(Path dir, List<String> environment) throws IOException {
        Peers.require("tgtd", "tgt");
        Peers.require("tgtadm", "tgt");
        Tgtd t = new Tgtd(dir, Ports.free(), ThreadLocalRandom.current().nextInt(1000, 32000), environment);
        t.launch();
        return t;
    }

    private void launch() throws IOException {
        List<String> command = new ArrayList<>();
        if (!environment.isEmpty()) {
            // env(1) execs tgtd, so the pid we stop it by is still tgtd's.
            command.add("env");
            command.addAll(environment);
        }
        command.addAll(List.of(Peers.require("tgtd", "tgt"), "-f", "-C", Integer.toString(control), "--iscsi",
                "portal=127.0.0.1:" + port));
        process = PeerProcess.start("tgtd-" + control, command, dir, null);
        Ports.awaitListening(port, Duration.ofSeconds(20), process.process());
        for (List<String> args : setup) {
            tgtadm(args);
        }
    }

    public int port() {
        return port;
    }

    /** The daemon's process id (its CPU time is in /proc/PID/stat, all threads together). */
    public long pid() {
        return process.process().pid();
    }

    public String portal() {
        return "127.0.0.1:" + port;
    }

    public String lunUrl(String userInfo, int lun) {
        return "iscsi://" + (userInfo == null ? "" : userInfo + "@") + portal() + "/" + IQN + "/" + lun;
    }

    /** iscsi:// URL of LUN 1, reaching the portal at {@code portalPort} (the target's or a proxy's). */
    public String url(int portalPort) {
        return "iscsi://127.0.0.1:" + portalPort + "/" + IQN + "/1";
    }

    /** tgtadm's view of target 1: its I_T nexuses (sessions) and their connections. */
    public String show() throws IOException {
        return tgtadm(List.of("--lld", "iscsi", "--op", "show", "--mode", "target"));
    }

    /**
     * Waits until target 1 has no I_T nexus left: tgtd frees a session only once its connections are released,
     * and a connection only once the commands it was running have completed, so after this nothing an
     * initiator that died sent can still change the LUN.
     */
    public void awaitNoSessions(Duration timeout) throws IOException, java.util.concurrent.TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        String shown;
        while ((shown = show()).contains("I_T nexus:")) {
            if (System.nanoTime() > deadline) {
                throw new java.util.concurrent.TimeoutException("tgtd still has sessions after " + timeout + ":\n" + shown);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(10_000_000); // polling tgtadm, not a timing
        }
    }

    /** Target 1 ({@link #IQN}) with LUN 1 backed by {@code file}, open to every initiator. */
    public Tgtd targetWithLun(Path file, String... lunParams) throws IOException {
        remember("--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", IQN);
        remember("--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b",
                file.toString());
        if (lunParams.length > 0) {
            remember("--lld", "iscsi", "--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "1",
                    "--params", String.join(",", lunParams));
        }
        remember("--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL");
        return this;
    }

    /** Lets initiators negotiate CRC32C header and data digests on target 1 (tgt offers only None by default). */
    public Tgtd allowDigests() throws IOException {
        remember("--lld", "iscsi", "--op", "update", "--mode", "target", "--tid", "1", "-n", "HeaderDigest", "-v", "CRC32C,None");
        remember("--lld", "iscsi", "--op", "update", "--mode", "target", "--tid", "1", "-n", "DataDigest", "-v", "CRC32C,None");
        return this;
    }

    /** CHAP: the initiator must log in as {@code user}; with {@code outgoing}, the target proves itself as this user. */
    public Tgtd chapAccount(String user, String password, boolean outgoing) throws IOException {
        remember("--lld", "iscsi", "--op", "new", "--mode", "account", "--user", user, "--password", password);
        List<String> bind = new ArrayList<>(List.of("--lld", "iscsi", "--op", "bind", "--mode", "account", "--tid", "1",
                "--user", user));
        if (outgoing) {
            bind.add("--outgoing");
        }
        remember(bind.toArray(String[]::new));
        return this;
    }

    private void remember(String... args) throws IOException {
        setup.add(List.of(args));
        tgtadm(List.of(args));
    }

    public String tgtadm(List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Peers.require("tgtadm", "tgt"), "-C", Integer.toString(control)));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out;
        try {
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("tgtadm " + args + " hung");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        if (p.exitValue() != 0) {
            throw new IOException("tgtadm " + String.join(" ", args) + " failed (" + p.exitValue() + "): " + out
                    + "\ntgtd log:\n" + process.logText());
        }
        return out;
    }

    /** SIGKILL by pid: the target vanishes mid-I/O, as a crashed storage server would. */
    public void kill() {
        process.kill();
    }

    /** Starts tgtd again on the same portal and control port, with the same targets, LUNs and accounts. */
    public void restart() throws IOException {
        launch();
    }

    /** Stops tgtd the way peers.md says: delete the targets, then the system; then by pid. */
    @Override
    public void close() {
        try {
            if (process.process().isAlive()) {
                try {
                    tgtadm(List.of("--lld", "iscsi", "--op", "delete", "--mode", "target", "--tid", "1", "--force"));
                } catch (IOException ignored) {
                    // no target 1: nothing to delete
                }
                tgtadm(List.of("--op", "delete", "--mode", "system"));
                process.process().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (IOException | InterruptedException e) {
            // fall through to the kill by pid
        } finally {
            process.close();
        }
    }
}
