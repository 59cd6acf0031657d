package io.tapdisk4j.safety.peers;

import io.tapdisk4j.testsupport.PeerProcess;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.testsupport.Ports;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * An nfs-ganesha of the safety suite's own (NFSv3 over TCP, one VFS export in a test directory) on loopback
 * ports from {@link Ports#free()}, restartable (SIGKILL + start: a new write verifier), stopped by pid.
 * rpcbind must answer on port 111 first; one is started (and later stopped) when none does.
 */
public final class GaneshaServer implements AutoCloseable {

    private final Path dir;
    private final Path export;
    private final int nfsPort;
    private final int mountPort;
    private final Path config;
    private PeerProcess rpcbind;
    private PeerProcess ganesha;

    public GaneshaServer(Path dir) throws IOException {
        Peers.require("ganesha.nfsd", "nfs-ganesha nfs-ganesha-vfs");
        this.dir = dir;
        this.export = Files.createDirectories(dir.resolve("export"));
        this.nfsPort = Ports.free();
        this.mountPort = Ports.free();
        this.config = dir.resolve("ganesha.conf");
        Files.writeString(config, """
                NFS_CORE_PARAM { NFS_Port = %d; MNT_Port = %d; NLM_Port = %d; Rquota_Port = %d;
                                 Bind_addr = 127.0.0.1; Protocols = 3; Enable_RQUOTA = false; Enable_NLM = false; }
                NFS_KRB5 { Active_krb5 = false; }
                EXPORT { Export_Id = 1; Path = %s; Pseudo = /safety; Access_Type = RW;
                         Squash = No_Root_Squash; SecType = sys; Protocols = 3; Transports = TCP;
                         FSAL { Name = VFS; } }
                LOG { Default_Log_Level = WARN; }
                """.formatted(nfsPort, mountPort, Ports.free(), Ports.free(), export));
        if (!listening(111)) {
            rpcbind = PeerProcess.start("rpcbind", List.of(Peers.require("rpcbind", "rpcbind"), "-f", "-w"), dir, null);
            Ports.awaitListening(111, Duration.ofSeconds(10), rpcbind.process());
        }
        start();
    }

    private static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private long lastStartSecond = -1;

    public synchronized void start() throws IOException {
        // ganesha's write verifier is its start time in whole seconds: a restart within the same second
        // would keep the verifier, and the client would rightly not resend. Start in a later second.
        long now;
        while ((now = System.currentTimeMillis()) / 1000 <= lastStartSecond) {
            java.util.concurrent.locks.LockSupport.parkNanos((1000 - now % 1000) * 1_000_000L + 1_000_000L);
        }
        lastStartSecond = now / 1000;
        ganesha = PeerProcess.start("ganesha", List.of(Peers.require("ganesha.nfsd", "nfs-ganesha"), "-F",
                "-f", config.toString(), "-L", dir.resolve("ganesha.log").toString(),
                "-p", dir.resolve("ganesha.pid").toString(), "-N", "NIV_WARN"), dir, null);
        Ports.awaitListening(nfsPort, Duration.ofSeconds(30), ganesha.process());
        Ports.awaitListening(mountPort, Duration.ofSeconds(30), ganesha.process());
    }

    /** SIGKILL by pid: the restart that follows gets a new write verifier. */
    public synchronized void kill() {
        if (ganesha != null) {
            ganesha.kill();
            ganesha = null;
        }
    }

    public Path export() {
        return export;
    }

    public int nfsPort() {
        return nfsPort;
    }

    public int mountPort() {
        return mountPort;
    }

    /** nfs:// URL of {@code name} in the export, reaching NFS at {@code port} (the server's or a proxy's). */
    public String url(String name, int port, String extra) {
        return "nfs://127.0.0.1" + export + "/" + name + "?nfsport=" + port + "&mountport=" + mountPort
                + (extra.isEmpty() ? "" : "&" + extra);
    }

    @Override
    public synchronized void close() {
        kill();
        if (rpcbind != null) {
            rpcbind.close();
        }
    }
}
