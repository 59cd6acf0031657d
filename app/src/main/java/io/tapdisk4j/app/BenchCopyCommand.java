package io.tapdisk4j.app;

import io.tapdisk4j.block.Sizes;
import io.tapdisk4j.testsupport.peers.Tgtd;
import io.tapdisk4j.testsupport.peers.Ganesha;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.testsupport.Medians;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * {@code bench copy}: the commands a user types, as whole processes, side by side in one run: start-up
 * ({@code vdi info} against {@code qemu-img info}, {@code ctl list}) and {@code vdi copy} against
 * {@code qemu-img convert} (local files, and from an iSCSI LUN on tgtd) and libnfs's {@code nfs-cp} (into
 * nfs-ganesha). Rounds alternate which command goes first; the figures are medians, and the ratio is the
 * peer's time over ours (above 1: we are faster).
 * <p>Same work on both sides: the same source file (random data, no zero runs: neither side may skip any),
 * a new sparse output, and the same durability: {@code vdi copy} flushes its output before it exits, so
 * qemu-img convert runs with {@code -t writeback} (it then flushes once at the end; its default, unsafe,
 * never flushes), and nfs-cp COMMITs on close as libnfs does for unstable writes. {@code vdi copy} writes a
 * local file with O_DIRECT (its default {@code --cache none}); qemu-img's {@code -t none}, the same, is a
 * second line for files and iSCSI.
 */
@Command(name = "copy", description = "vdi copy and CLI start-up against qemu-img convert / qemu-img info / nfs-cp, "
        + "as whole processes side by side in one run (alternating rounds, medians, ratios).")
final class BenchCopyCommand implements Callable<Integer> {

    @Option(names = "--sizes", split = ",", defaultValue = "256M,1G", description = "Image sizes (default: ${DEFAULT-VALUE}).")
    List<String> sizes;

    @Option(names = "--rounds", defaultValue = "5", description = "Rounds per pair (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--only", split = ",", description = "startup, file, iscsi, nfs (default: all).")
    List<String> only = List.of();

    @Option(names = "--dir", description = "Work directory (default: a new temporary directory).")
    Path dir;

    @Option(names = "--nfs-params", paramLabel = "K=V[&K=V]", defaultValue = "",
            description = "Extra parameters of vdi copy's nfs:// destination (e.g. maxunstable=1G), to find what limits it.")
    String nfsParams;

    private final PrintStream out = System.out;
    private String launcher;

    private boolean wanted(String what) {
        return only.isEmpty() || only.contains(what);
    }

    @Override
    public Integer call() throws Exception {
        BenchCommand.quietDeviceLogs();
        launcher = launcher();
        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        Path d = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("tapdisk4j-bench-copy-");
        out.printf(Locale.ROOT, "%-44s %10s %10s %8s%n", "WHAT (ours | peer)", "OURS s", "PEER s", "RATIO");
        if (wanted("startup")) {
            Path img = d.resolve("startup.raw");
            writeRandom(img, 1 << 20);
            pair("vdi info file | qemu-img info", List.of(launcher, "vdi", "info", "file://" + img),
                    List.of(qemuImg, "info", "-f", "raw", img.toString()), () -> null);
            Path sim = d.resolve("sim");
            try (var daemon = io.tapdisk4j.app.daemon.Daemon.start(io.tapdisk4j.app.daemon.DaemonOptions.sim(sim))) {
                pair("ctl list | qemu-img --version", List.of(launcher, "ctl", "--sim", sim.toString(), "list"),
                        List.of(qemuImg, "--version"), () -> null);
            }
            Files.deleteIfExists(img);
        }
        for (String size : sizes) {
            long bytes = Sizes.parse(size);
            Path src = d.resolve("src-" + size + ".raw");
            writeRandom(src, bytes);
            Path ours = d.resolve("ours.raw");
            Path theirs = d.resolve("theirs.raw");
            Supplier<Void> clean = () -> {
                try {
                    Files.deleteIfExists(ours);
                    Files.deleteIfExists(theirs);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                return null;
            };
            if (wanted("file")) {
                convertPairs("file " + size, qemuImg, "file://" + src, src.toString(), ours, theirs, clean);
            }
            if (wanted("iscsi")) {
                try (Tgtd tgtd = Tgtd.start(d.resolve("tgtd-" + size)).targetWithLun(src)) {
                    String lun = tgtd.lunUrl(null, 1);
                    convertPairs("iscsi " + size, qemuImg, lun, lun, ours, theirs, clean);
                }
            }
            if (wanted("nfs")) {
                String nfsCp = Peers.require("nfs-cp", "libnfs-utils");
                try (Ganesha g = Ganesha.startStandalone()) {
                    // Removed through NFS, not under the server's feet: ganesha would still believe they exist.
                    io.tapdisk4j.nfs.device.NfsDeviceProvider nfs = new io.tapdisk4j.nfs.device.NfsDeviceProvider();
                    Supplier<Void> cleanNfs = () -> {
                        for (String name : List.of("ours.raw", "theirs.raw")) {
                            try {
                                nfs.remove(io.tapdisk4j.block.DeviceUri.parse(g.url(name, "")));
                            } catch (IOException notThere) {
                                // nothing to remove
                            }
                        }
                        return null;
                    };
                    pair("vdi copy nfs " + size + " | nfs-cp",
                            List.of(launcher, "vdi", "copy", "file://" + src, g.url("ours.raw", nfsParams)),
                            List.of(nfsCp, src.toString(), "nfs://127.0.0.1" + g.export() + "/theirs.raw?version=3&nfsport="
                                    + g.nfsPort() + "&mountport=" + g.mountPort()), cleanNfs);
                }
            }
            Files.deleteIfExists(src);
        }
        return 0;
    }

    /**
     * {@code vdi copy} of {@code ourSrc} against {@code qemu-img convert} of {@code qemuSrc}, into a new local
     * file: once against {@code -t writeback} (flushed at the end, the same durability), once against
     * {@code -t none} (O_DIRECT, the same mode as vdi copy's default).
     */
    private void convertPairs(String what, String qemuImg, String ourSrc, String qemuSrc, Path ours, Path theirs,
            Supplier<Void> clean) throws Exception {
        for (String mode : List.of("writeback", "none")) {
            pair("vdi copy " + what + " | qemu-img convert" + (mode.equals("none") ? " -t none" : ""),
                    List.of(launcher, "vdi", "copy", ourSrc, "file://" + ours),
                    List.of(qemuImg, "convert", "-t", mode, "-f", "raw", "-O", "raw", qemuSrc, theirs.toString()), clean);
        }
    }

    /** Runs both commands {@link #rounds} times, alternating which goes first, and prints the medians. */
    private void pair(String what, List<String> oursCmd, List<String> peerCmd, Supplier<Void> clean) throws Exception {
        double[] ours = new double[rounds];
        double[] peer = new double[rounds];
        clean.get();
        time(oursCmd); // warm the page cache and the AOT cache for both, unmeasured
        clean.get();
        time(peerCmd);
        for (int r = 0; r < rounds; r++) {
            clean.get();
            if (r % 2 == 0) {
                ours[r] = time(oursCmd);
                clean.get();
                peer[r] = time(peerCmd);
            } else {
                peer[r] = time(peerCmd);
                clean.get();
                ours[r] = time(oursCmd);
            }
        }
        clean.get();
        double o = Medians.of(ours);
        double p = Medians.of(peer);
        out.printf(Locale.ROOT, "%-44s %10.3f %10.3f %7.2fx%n", what, o, p, p / o);
        out.flush();
    }

    private static double time(List<String> cmd) throws Exception {
        long start = System.nanoTime();
        Path log = Files.createTempFile("tapdisk4j-bench-", ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + String.join(" ", cmd));
        }
        double s = (System.nanoTime() - start) / 1e9;
        String output = Files.readString(log);
        Files.deleteIfExists(log);
        if (p.exitValue() != 0) {
            throw new IOException("failed (exit " + p.exitValue() + "): " + String.join(" ", cmd) + "\n" + output);
        }
        return s;
    }

    private static void writeRandom(Path file, long bytes) throws IOException {
        byte[] block = new byte[1 << 20];
        SplittableRandom rnd = new SplittableRandom(19);
        try (OutputStream o = Files.newOutputStream(file)) {
            for (long done = 0; done < bytes; done += block.length) {
                for (int i = 0; i < block.length; i += 8) {
                    long v = rnd.nextLong();
                    for (int k = 0; k < 8; k++) {
                        block[i + k] = (byte) (v >>> (8 * k));
                    }
                }
                o.write(block, 0, (int) Math.min(block.length, bytes - done));
            }
        }
    }

    /** The ./tapdisk4j launcher beside the jar this runs from (app/target/tapdisk4j.jar). */
    private static String launcher() throws Exception {
        Path jar = Path.of(BenchCopyCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path root = jar.getParent().getParent().getParent();
        Path l = root.resolve("tapdisk4j");
        if (!Files.isExecutable(l)) {
            throw new IOException("bench copy runs ./tapdisk4j as a user would; not found at " + l);
        }
        return l.toString();
    }
}
