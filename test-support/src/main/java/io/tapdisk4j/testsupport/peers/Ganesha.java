package io.tapdisk4j.testsupport.peers;

import io.tapdisk4j.testsupport.PeerProcess;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.testsupport.Ports;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * One nfs-ganesha for the whole test run (it takes seconds to start), on loopback ports from
 * {@link Ports#free()}, stopped by pid when the run ends. Two exports: {@code export()} (read-write, no
 * root squash), {@code smallExport()}, a 4 MiB tmpfs for "export full" tests, and {@code readOnlyExport()}. rpcbind must run first
 * (ganesha registers with it); the fixture starts one when nothing answers on port 111.
 */
public final class Ganesha implements ExtensionContext.Store.CloseableResource, AutoCloseable {

    private static Ganesha instance;

    private final Path dir;
    private final Path export;
    private final Path smallExport;
    private final Path readOnlyExport;
    private final int nfsPort;
    private final int mountPort;
    private final Path config;
    private PeerProcess rpcbind;
    private PeerProcess ganesha;
    private boolean tmpfsMounted;
    private long lastStartSecond = -1;
    private long lastEpoch = -1;

    /** The shared server, started on first use and stopped when the JUnit run ends. */
    public static synchronized Ganesha get(ExtensionContext context) {
        if (instance == null) {
            Ganesha g = new Ganesha();
            context.getRoot().getStore(ExtensionContext.Namespace.GLOBAL).put(Ganesha.class, g);
            instance = g;
        }
        return instance;
    }

    /** A server of one's own (the benchmark, a suite that kills and restarts it); the caller closes it. */
    public static Ganesha startStandalone() {
        return new Ganesha();
    }

    private Ganesha() {
        Peers.require("ganesha.nfsd", "nfs-ganesha nfs-ganesha-vfs");
        Peers.require("rpcbind", "rpcbind");
        try {
            dir = Files.createTempDirectory("tapdisk4j-ganesha");
            export = Files.createDirectories(dir.resolve("export"));
            smallExport = Files.createDirectories(dir.resolve("small"));
            readOnlyExport = Files.createDirectories(dir.resolve("readonly"));
            nfsPort = Ports.free();
            mountPort = Ports.free();
            config = dir.resolve("ganesha.conf");
            Files.writeString(config, """
                    NFS_CORE_PARAM { NFS_Port = %d; MNT_Port = %d; NLM_Port = %d; Rquota_Port = %d;
                                     Bind_addr = 127.0.0.1; Protocols = 3; Enable_RQUOTA = false; Enable_NLM = false; }
                    NFSV4 { Graceless = true; }
                    NFS_KRB5 { Active_krb5 = false; }
                    EXPORT { Export_Id = 1; Path = %s; Pseudo = /t4j1; Access_Type = RW;
                             Squash = No_Root_Squash; SecType = sys; Protocols = 3; Transports = TCP;
                             FSAL { Name = VFS; } }
                    EXPORT { Export_Id = 2; Path = %s; Pseudo = /t4j2; Access_Type = RW;
                             Squash = No_Root_Squash; SecType = sys; Protocols = 3; Transports = TCP;
                             FSAL { Name = VFS; } }
                    EXPORT { Export_Id = 3; Path = %s; Pseudo = /t4j3; Access_Type = RO;
                             Squash = No_Root_Squash; SecType = sys; Protocols = 3; Transports = TCP;
                             FSAL { Name = VFS; } }
                    LOG { Default_Log_Level = WARN; }
                    """.formatted(nfsPort, mountPort, Ports.free(), Ports.free(), export, smallExport, readOnlyExport));
            mountSmallTmpfs();
            startRpcbindIfNeeded();
            start();
        } catch (IOException e) {
            close();
            throw new UncheckedIOException(e);
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    private void mountSmallTmpfs() throws IOException {
        run(List.of("mount", "-t", "tmpfs", "-o", "size=4m,mode=0777", "tmpfs", smallExport.toString()),
                "mounting a 4 MiB tmpfs for the export-full tests needs root");
        tmpfsMounted = true;
    }

    private static void run(List<String> cmd, String hint) throws IOException {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new AssertionError(String.join(" ", cmd) + " failed (" + hint + "): " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    private static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private void startRpcbindIfNeeded() throws IOException {
        if (listening(111)) {
            return; // a system rpcbind: use it, and leave it running
        }
        // rpcbind has no working option to listen on loopback only (its -h applies to UDP); it is the
        // standard port-111 service that ganesha requires.
        rpcbind = PeerProcess.start("rpcbind", List.of(Peers.require("rpcbind", "rpcbind"), "-f", "-w"), dir, null);
        Ports.awaitListening(111, Duration.ofSeconds(10), rpcbind.process());
    }

    /**
     * Starts ganesha (again) with the same configuration and ports. Its write verifier comes from its epoch,
     * by default the second its process reached initialisation; a restart that lands in the same second as
     * the last start's initialisation would keep it (the client would rightly not resend). So every start
     * gets its own epoch ({@code -E}), strictly increasing, and waits for a new second as well.
     */
    public synchronized void start() throws IOException {
        long now;
        while ((now = System.currentTimeMillis()) / 1000 <= lastStartSecond) {
            LockSupport.parkNanos((1000 - now % 1000) * 1_000_000L + 1_000_000L); // a clock condition, not a timing
        }
        lastStartSecond = now / 1000;
        lastEpoch = Math.max(lastEpoch + 1, lastStartSecond);
        Path pid = dir.resolve("ganesha.pid");
        Files.deleteIfExists(pid);
        ganesha = PeerProcess.start("ganesha", List.of(Peers.require("ganesha.nfsd", "nfs-ganesha"), "-F",
                "-f", config.toString(), "-L", dir.resolve("ganesha.log").toString(), "-p", pid.toString(),
                "-N", "NIV_WARN", "-E", Long.toString(lastEpoch)), dir, null);
        Ports.awaitListening(nfsPort, Duration.ofSeconds(30), ganesha.process());
        Ports.awaitListening(mountPort, Duration.ofSeconds(30), ganesha.process());
    }

    /**
     * Makes sure rpcbind maps NFS and MOUNT to this server. rpcbind is one registry for the machine: a ganesha
     * started later by a concurrent test run registers over ours, so tests that rely on GETPORT call this
     * first; it restarts this server (which registers again) when the mapping points elsewhere.
     */
    public synchronized void ensureRegistered() throws Exception {
        for (int attempt = 0; attempt < 3; attempt++) {
            if (registeredPort(100003) == nfsPort && registeredPort(100005) == mountPort) {
                return;
            }
            kill();
            start();
        }
        throw new AssertionError("rpcbind keeps mapping NFS to another server (a concurrent ganesha?)");
    }

    /** The TCP port rpcbind maps {@code program} version 3 to ({@code rpcinfo -p}), or -1. */
    private static int registeredPort(int program) throws Exception {
        Process p = new ProcessBuilder(Peers.require("rpcinfo", "rpcbind"), "-p", "127.0.0.1").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(20, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            return -1;
        }
        // "   program vers proto   port  service"
        for (String line : out.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 4 && f[0].equals(Integer.toString(program)) && f[1].equals("3") && f[2].equals("tcp")) {
                return Integer.parseInt(f[3]);
            }
        }
        return -1;
    }

    /** SIGKILL: the server loses whatever it had not made durable. */
    public synchronized void kill() {
        if (ganesha != null) {
            ganesha.kill();
            ganesha = null;
        }
    }

    public Path export() {
        return export;
    }

    public Path smallExport() {
        return smallExport;
    }

    public Path readOnlyExport() {
        return readOnlyExport;
    }

    public int nfsPort() {
        return nfsPort;
    }

    public int mountPort() {
        return mountPort;
    }

    /** An nfs:// URL for {@code name} in the main export, with explicit ports and {@code extra} parameters. */
    public String url(String name, String extra) {
        return url(export, name, extra);
    }

    /** An nfs:// URL for {@code name} in the main export, reaching NFS at {@code port} (the server's or a proxy's). */
    public String url(String name, int port, String extra) {
        return "nfs://127.0.0.1" + export + "/" + name + "?nfsport=" + port + "&mountport=" + mountPort
                + (extra.isEmpty() ? "" : "&" + extra);
    }

    public String url(Path exportDir, String name, String extra) {
        return "nfs://127.0.0.1" + exportDir + (name.isEmpty() ? "" : "/" + name) + "?nfsport=" + nfsPort
                + "&mountport=" + mountPort + (extra.isEmpty() ? "" : "&" + extra);
    }

    public String log() {
        try {
            return Files.readString(dir.resolve("ganesha.log"));
        } catch (IOException e) {
            return "(no log)";
        }
    }

    @Override
    public synchronized void close() {
        kill();
        if (rpcbind != null) {
            rpcbind.close();
        }
        if (tmpfsMounted) {
            try {
                run(List.of("umount", smallExport.toString()), "unmounting the test tmpfs");
            } catch (IOException | AssertionError e) {
                System.err.println("could not unmount " + smallExport + ": " + e);
            }
        }
        if (dir != null) {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                System.err.println("could not delete " + dir + ": " + e);
            }
        }
        synchronized (Ganesha.class) {
            if (instance == this) {
                instance = null;
            }
        }
    }
}
