package io.tapdisk4j.nbd.client;

import io.tapdisk4j.testsupport.PeerProcess;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.testsupport.Ports;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Starts the NBD servers the client is tested against, on 127.0.0.1 and ports of their own. */
final class NbdPeers {

    private NbdPeers() {
    }

    /** nbdkit in the foreground (stopped by its own pid): {@code args} are the plugin and filters. */
    static PeerProcess nbdkit(Path dir, int port, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Peers.require("nbdkit", "nbdkit"), "-f", "-p", String.valueOf(port),
                "-i", "127.0.0.1", "--exit-with-parent"));
        cmd.addAll(List.of(args));
        PeerProcess p = PeerProcess.start("nbdkit-" + port, cmd, dir, null);
        Ports.awaitListening(port, Duration.ofSeconds(15), p.process());
        return p;
    }

    static PeerProcess qemuNbd(Path dir, int port, Path disk, String name) throws Exception {
        Path pid = dir.resolve("qemu-nbd-" + port + ".pid");
        PeerProcess p = PeerProcess.start("qemu-nbd-" + port, List.of(Peers.require("qemu-nbd", "qemu-utils"),
                "-p", String.valueOf(port), "-b", "127.0.0.1", "-f", "raw", "-t", "-x", name, "-e", "8",
                disk.toString(), "--fork", "--pid-file", pid.toString()), dir, pid);
        p.awaitLauncherExit(Duration.ofSeconds(15));
        Ports.awaitListening(port, Duration.ofSeconds(15), null);
        return p;
    }

    static PeerProcess nbdServer(Path dir, int port, Path disk, String name) throws Exception {
        Path conf = dir.resolve("nbd-server-" + port + ".conf");
        Path pid = dir.resolve("nbd-server-" + port + ".pid");
        Files.writeString(conf, """
                [generic]
                port = %d
                listenaddr = 127.0.0.1
                user = root
                group = root
                allowlist = true
                [%s]
                exportname = %s
                """.formatted(port, name, disk));
        PeerProcess p = PeerProcess.start("nbd-server-" + port, List.of(Peers.require("nbd-server", "nbd-server"),
                "-C", conf.toString(), "-p", pid.toString()), dir, pid);
        p.awaitLauncherExit(Duration.ofSeconds(15));
        Ports.awaitListening(port, Duration.ofSeconds(15), null);
        return p;
    }
}
