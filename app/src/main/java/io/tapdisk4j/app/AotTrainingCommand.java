package io.tapdisk4j.app;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.iscsi.target.IscsiTarget;
import io.tapdisk4j.iscsi.target.IscsiTargetConfig;
import io.tapdisk4j.nbd.server.NbdServer;
import io.tapdisk4j.nbd.server.NbdStandaloneExport;
import io.tapdisk4j.nbd.server.NbdTlsMode;
import picocli.CommandLine.Command;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * The training run for the JVM's ahead-of-time cache (JEP 483/514), which the launcher makes once per
 * jar: the short commands people run often (vdi info/check on local images, ctl, --help), and vdi info and
 * copy over NBD and iSCSI against servers of its own, with their output discarded, so the classes they load
 * and link come from the cache on every later start.
 */
@Command(name = "aot-training", hidden = true, description = "Training run for the start-up cache (used by the launcher).")
final class AotTrainingCommand implements Callable<Integer> {

    @Override
    public Integer call() throws Exception {
        Path dir = Files.createTempDirectory("tapdisk4j-aot-");
        PrintStream out = System.out;
        PrintStream err = System.err;
        PrintStream sink = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        try {
            System.setOut(sink);
            System.setErr(sink);
            String raw = "file://" + dir.resolve("t.raw");
            String vhd = "file://" + dir.resolve("t.vhd");
            Main.run("vdi", "create", raw, "--size", "8M");
            Main.run("vdi", "create", vhd, "--size", "8M", "--format", "vhd");
            for (String uri : new String[]{raw, vhd}) {
                Main.run("vdi", "info", uri);
                Main.run("vdi", "info", "--json", uri);
                Main.run("vdi", "check", uri);
            }
            // vdi copy is not short, but its start-up counts as much at 256 MiB as a whole qemu-img convert.
            Main.run("vdi", "copy", raw, "file://" + dir.resolve("c.raw"));
            Main.run("vdi", "copy", vhd, "file://" + dir.resolve("c.vhd"), "--format", "vhd");
            Main.run("ctl", "--socket", dir.resolve("none.sock").toString(), "list");
            Main.run("--help");
            Main.run("vdi", "--help");
            overOwnServers(dir, raw);
            loadNetworkClients();
        } finally {
            System.setOut(out);
            System.setErr(err);
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        return 0;
    }

    /**
     * vdi info and copy over NBD and iSCSI against this process's own export and target on 127.0.0.1 (a free
     * port each, closed at the end): loading the client classes was not enough, as the Netty core they run on
     * (channels, bootstrap, buffers) was still read from the jar, about 250 classes on every network command.
     * Returns each command's exit status (the training goes on whatever they are; a test checks them).
     */
    static java.util.List<Integer> overOwnServers(Path dir, String raw) throws Exception {
        java.util.List<Integer> status = new java.util.ArrayList<>();
        Path data = dir.resolve("served.raw");
        byte[] bytes = new byte[8 << 20];
        new java.util.SplittableRandom(1).nextBytes(bytes);
        Files.write(data, bytes);
        BlockDevices devices = BlockDevices.loadDefault();
        try (BlockDevice device = devices.open("file://" + data);
             NbdServer nbd = new NbdStandaloneExport("127.0.0.1", 0, null, "", null, false, NbdTlsMode.OFF, null, false,
                     null).start(device)) {
            clientCommands("nbd://127.0.0.1:" + ((java.net.InetSocketAddress) nbd.localAddress()).getPort() + "/",
                    dir.resolve("from-nbd.raw"), raw, status);
        }
        try (BlockDevice device = devices.open("file://" + data);
             IscsiTarget target = IscsiTarget.start(device, IscsiTargetConfig.of("iqn.2026-12.io.tapdisk4j:aot"),
                     "127.0.0.1", 0)) {
            clientCommands("iscsi://127.0.0.1:" + target.port() + "/" + target.targetName() + "/0",
                    dir.resolve("from-iscsi.raw"), raw, status);
        }
        return status;
    }

    /** vdi info of {@code uri}, a copy out of it into {@code copy}, and {@code raw} copied onto it; exit statuses into {@code status}. */
    private static void clientCommands(String uri, Path copy, String raw, java.util.List<Integer> status) {
        status.add(Main.run("vdi", "info", uri));
        status.add(Main.run("vdi", "copy", uri, "file://" + copy));
        status.add(Main.run("vdi", "copy", "--existing", raw, uri));
    }

    /**
     * Packages a command over the network needs (vdi info/copy on nbd://, iscsi://, nfs://, rbd://) that no server
     * is there to exercise here: their classes are loaded (not initialised), so the cache holds them parsed,
     * verified and linked. Each class in the cache costs every start a little (about 5 ms per 1,000 classes);
     * a network command saw a tenth of a second or more of parsing and verifying them.
     */
    static final java.util.List<String> NETWORK_PACKAGES = java.util.List.of(
            "io/tapdisk4j/iscsi/device/", "io/tapdisk4j/iscsi/session/", "io/tapdisk4j/iscsi/login/",
            "io/tapdisk4j/iscsi/scsi/", "io/tapdisk4j/iscsi/pdu/", "io/tapdisk4j/iscsi/text/", "io/tapdisk4j/nfs/",
            "io/tapdisk4j/nbd/client/", "io/tapdisk4j/nbd/NbdClient", "io/tapdisk4j/nbd/NbdOption", "io/tapdisk4j/rbd/",
            "io/netty/channel/epoll/", "io/netty/channel/nio/", "io/netty/channel/socket/",
            "io/netty/handler/codec/ByteToMessage", "io/netty/handler/codec/MessageToByte",
            "io/netty/handler/timeout/", "io/netty/resolver/");

    private static void loadNetworkClients() throws Exception {
        Path jar = Path.of(AotTrainingCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        if (!Files.isRegularFile(jar)) {
            return; // classes in directories (tests, an IDE): no launcher, no cache to fill
        }
        ClassLoader loader = AotTrainingCommand.class.getClassLoader();
        try (java.util.jar.JarFile j = new java.util.jar.JarFile(jar.toFile())) {
            for (var e = j.entries(); e.hasMoreElements(); ) {
                String name = e.nextElement().getName();
                if (name.endsWith(".class") && !name.contains("-") && !name.contains("Test") && NETWORK_PACKAGES.stream().anyMatch(name::startsWith)) {
                    try {
                        Class.forName(name.substring(0, name.length() - 6).replace('/', '.'), false, loader);
                    } catch (ClassNotFoundException | LinkageError notForThisJvm) {
                        // a class of an optional part (native transport of another OS): not wanted in the cache
                    }
                }
            }
        }
    }
}
