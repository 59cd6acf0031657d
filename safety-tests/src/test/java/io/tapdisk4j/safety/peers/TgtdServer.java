package io.tapdisk4j.safety.peers;

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
 * A tgtd of the safety suite's own (peers.md): portal 127.0.0.1 on a free port, its own control port,
 * target 1 with LUN 1 backed by a file; stopped by deleting the target and the system, then by pid.
 */
public final class TgtdServer implements AutoCloseable {

    public static final String IQN = "iqn.2026-11.io.tapdisk4j.safety:disk1";

    private final int port;
    private final int control;
    private final PeerProcess process;

    public TgtdServer(Path dir, Path backing) throws IOException {
        this.port = Ports.free();
        this.control = ThreadLocalRandom.current().nextInt(1000, 32000); // tgtd refuses control ports above 32767
        this.process = PeerProcess.start("tgtd-" + control, List.of(Peers.require("tgtd", "tgt"), "-f", "-C",
                Integer.toString(control), "--iscsi", "portal=127.0.0.1:" + port), dir, null);
        Ports.awaitListening(port, Duration.ofSeconds(20), process.process());
        tgtadm("--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", IQN);
        tgtadm("--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b",
                backing.toString());
        tgtadm("--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL");
    }

    public int port() {
        return port;
    }

    /** iscsi:// URL of LUN 1, reaching the portal at {@code portalPort} (the target's or a proxy's). */
    public String url(int portalPort) {
        return "iscsi://127.0.0.1:" + portalPort + "/" + IQN + "/1";
    }

    /** tgtadm's view of target 1: its I_T nexuses (sessions) and their connections. */
    public String show() throws IOException {
        return tgtadm("--lld", "iscsi", "--op", "show", "--mode", "target");
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

    private String tgtadm(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Peers.require("tgtadm", "tgt"), "-C", Integer.toString(control)));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(20, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException("tgtadm " + String.join(" ", args) + " failed: " + out + "\n" + process.logText());
            }
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    @Override
    public void close() {
        try {
            tgtadm("--lld", "iscsi", "--op", "delete", "--mode", "target", "--tid", "1", "--force");
            tgtadm("--op", "delete", "--mode", "system");
            process.process().waitFor(10, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException e) {
            // fall through to the stop by pid
        } finally {
            process.close();
        }
    }
}
