package io.tapdisk4j.rbd.bench;

import io.tapdisk4j.rbd.testing.CephCluster;
import io.tapdisk4j.testsupport.PeerFigure;
import io.tapdisk4j.testsupport.PeerProcess;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.testsupport.Ports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * tapdisk4j against QEMU on one single-node Ceph cluster, whole processes side by side in one run (medians of
 * {@code -Drounds}, default 3, the side that goes first alternating): {@code ./tapdisk4j vdi copy} of a 1 GiB file into and out of RBD
 * against {@code qemu-img convert} with QEMU's rbd driver; {@code ./tapdisk4j export rbd://…} against
 * {@code qemu-nbd} exporting the same image, read with {@code nbdcopy -C 4} and fio 4 KiB random reads
 * (ioengine=nbd, queue depth 32). Both sides run librbd with its cache off and flush a file destination once at
 * the end (the QEMU side with {@code -T none}/{@code -t writeback}/{@code --cache=none} as the copy direction
 * needs, and {@code -t none}, O_DIRECT as vdi copy writes a file, beside it; {@code -Ddefaults=true} adds
 * qemu-img with its default cache modes). Not part of the test suite (the
 * name does not end in Test); run it with
 * <pre>
 *   ./tapdisk4j --version   # builds app/target/tapdisk4j.jar
 *   mvn -pl rbd-backend -am test -Dtest=RbdPeerBenchmark -Dsurefire.failIfNoSpecifiedTests=false -Dceph.nice=15
 * </pre>
 * at normal priority (the measured processes inherit it; {@code -Dceph.nice=15} runs the cluster below them).
 */
class RbdPeerBenchmark {

    static final long SIZE = Long.getLong("size", 1L << 30);
    static final int ROUNDS = Integer.getInteger("rounds", 3);
    static final int FIO_SECONDS = Integer.getInteger("fio.seconds", 8);
    /** Also time qemu-img with its default cache modes (-Ddefaults=true), as extra rows. */
    static final boolean DEFAULTS = Boolean.getBoolean("defaults");

    @Test
    @Timeout(3600)
    void tapdisk4jAgainstQemu() throws Exception {
        CephCluster ceph = CephCluster.shared();
        Path root = Path.of(System.getProperty("tapdisk4j.root", Path.of("").toAbsolutePath().getParent().toString()));
        String tapdisk4j = root.resolve("tapdisk4j").toString();
        if (!Files.exists(root.resolve("app/target/tapdisk4j.jar"))) {
            throw new AssertionError("build the command first: ./tapdisk4j --version (in " + root + ")");
        }
        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        String qemuNbd = Peers.require("qemu-nbd", "qemu-utils");
        String nbdcopy = Peers.require("nbdcopy", "libnbd-bin");
        String fio = Peers.require("fio", "fio");
        Path dir = Files.createTempDirectory("rbd-bench");
        try {
            Path src = dir.resolve("src.raw");
            writeRandom(src, SIZE);
            double memcpy = memcpyGBps();
            int n = ROUNDS;
            double[] tapIn = new double[n], qemuIn = new double[n], tapOut = new double[n], qemuOut = new double[n];
            double[] qemuInDefault = new double[n], qemuOutDefault = new double[n], qemuOutDirect = new double[n];
            for (int round = 0; round < n; round++) {
                int r = round;
                String tapImage = "bench-tap-" + round;
                String qemuImage = "bench-qemu-" + round;
                Path a = dir.resolve("out-tap.raw");
                Path b = dir.resolve("out-qemu.raw");
                // The same settings on both sides: librbd's cache off (ours by default; QEMU's cache=none sets
                // rbd_cache=false), and a file destination flushed once at the end (vdi copy's final flush;
                // QEMU's cache=writeback flushes on close, its default for convert's output, cache=unsafe, never
                // does). vdi copy writes the file with O_DIRECT (its default --cache none); qemu-img's -t none,
                // the same, is measured below beside -t writeback. Odd rounds run QEMU first: whoever goes first
                // meets the OSD and the page cache as the previous copy left them.
                Runnable[] in = {
                    () -> tapIn[r] = time(tapdisk4j, "vdi", "copy", "file://" + src, ceph.uri(tapImage)),
                    () -> qemuIn[r] = time(qemuImg, "convert", "-T", "writeback", "-t", "none", "-f", "raw", "-O",
                            "raw", src.toString(), ceph.qemu(qemuImage))};
                Runnable[] out = {
                    () -> tapOut[r] = time(tapdisk4j, "vdi", "copy", ceph.uri(qemuImage), "file://" + a),
                    () -> qemuOut[r] = time(qemuImg, "convert", "-T", "none", "-t", "writeback", "-f", "raw", "-O",
                            "raw", ceph.qemu(tapImage), b.toString())};
                inOrder(round, in);
                inOrder(round, out);
                // vdi copy writes a local file with O_DIRECT (its --cache none): qemu-img's same mode too.
                Path d = dir.resolve("out-qemu-direct.raw");
                qemuOutDirect[round] = time(qemuImg, "convert", "-T", "none", "-t", "none", "-f", "raw", "-O", "raw",
                        ceph.qemu(tapImage), d.toString());
                Files.delete(d);
                if (DEFAULTS) {
                    // And qemu-img's own defaults (-T writeback: rbd_cache=true; -t unsafe: no flush at all).
                    Path c = dir.resolve("out-qemu-default.raw");
                    qemuOutDefault[round] = time(qemuImg, "convert", "-f", "raw", "-O", "raw", ceph.qemu(tapImage),
                            c.toString());
                    Files.delete(c);
                    qemuInDefault[round] = time(qemuImg, "convert", "-f", "raw", "-O", "raw", src.toString(),
                            ceph.qemu(qemuImage + "-default"));
                    ceph.rbd("rm", CephCluster.POOL + "/" + qemuImage + "-default");
                }
                if (round == 0) {
                    // Both directions copied the same bytes.
                    if (time(qemuImg, "compare", "-f", "raw", "-F", "raw", a.toString(), src.toString()) < 0
                            || time(qemuImg, "compare", "-f", "raw", "-F", "raw", b.toString(), src.toString()) < 0) {
                        throw new AssertionError("unreachable");
                    }
                }
                Files.delete(a);
                Files.delete(b);
                if (round < n - 1) {
                    ceph.rbd("rm", CephCluster.POOL + "/" + tapImage);
                    ceph.rbd("rm", CephCluster.POOL + "/" + qemuImage);
                }
            }
            String image = "bench-tap-" + (n - 1);
            double[] tapCopy = new double[n], qemuCopy = new double[n], tapIops = new double[n], qemuIops = new double[n];
            for (int round = 0; round < n; round++) {
                int r = round;
                Runnable[] servers = {
                    () -> exportRound(tapdisk4j, ceph.uri(image), dir, nbdcopy, fio, tapCopy, tapIops, r),
                    () -> qemuNbdRound(qemuNbd, ceph.qemu(image), dir, nbdcopy, fio, qemuCopy, qemuIops, r)};
                inOrder(round, servers);
            }
            String gib = String.format(Locale.ROOT, "%.0f MiB", SIZE / 1048576.0);
            List<PeerFigure> figures = new ArrayList<>();
            figures.add(PeerFigure.ofMedians("RBD", "vdi copy file -> rbd, " + gib, "qemu-img convert", tapIn, qemuIn, "s", false));
            figures.add(PeerFigure.ofMedians("RBD", "vdi copy rbd -> file, " + gib, "qemu-img convert", tapOut, qemuOut, "s", false));
            figures.add(PeerFigure.ofMedians("RBD", "vdi copy rbd -> file, " + gib, "qemu-img convert -t none (O_DIRECT, as vdi copy)",
                    tapOut, qemuOutDirect, "s", false));
            if (DEFAULTS) {
                figures.add(PeerFigure.ofMedians("RBD", "vdi copy file -> rbd, " + gib, "qemu-img convert, its default cache modes",
                        tapIn, qemuInDefault, "s", false));
                figures.add(PeerFigure.ofMedians("RBD", "vdi copy rbd -> file, " + gib, "qemu-img convert -t unsafe (no flush)",
                        tapOut, qemuOutDefault, "s", false));
            }
            figures.add(PeerFigure.ofMedians("RBD NBD export", "nbdcopy -C 4, " + gib, "qemu-nbd", tapCopy, qemuCopy, "s", false));
            figures.add(PeerFigure.ofMedians("RBD NBD export", "fio 4k randread qd32, " + FIO_SECONDS + " s", "qemu-nbd", tapIops,
                    qemuIops, "IOPS", true));
            System.out.println("[rbd-bench] memcpy in this run: " + String.format(Locale.ROOT, "%.1f GB/s", memcpy));
            System.out.println(PeerFigure.header());
            figures.forEach(f -> System.out.println(f.row()));
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** Runs both sides of one round, ours first in even rounds and the peer first in odd ones. */
    static void inOrder(int round, Runnable[] sides) {
        settle();
        sides[round % 2].run();
        settle();
        sides[1 - round % 2].run();
    }

    /**
     * Writes back whatever the previous command left dirty, unmeasured, so that every timed command starts from
     * the same state. By hand (2026-12-07), whichever copy ran second often took 3.9-4.7 s where the first took
     * 1.3-1.9 s; in the benchmark this sync then took 0.00 s (both sides flush their output before they exit),
     * so that swing is the VM's disk, not dirty data left behind, and only alternating rounds even it out.
     */
    static void settle() {
        time("sync");
    }

    /**
     * One round of our NBD export of {@code uri}: a warm-up pass of nbdcopy first (unmeasured, for both servers:
     * a daemon serves for weeks, so its read path is compiled and librbd connected long before), then the
     * measured nbdcopy and fio.
     */
    static void exportRound(String tapdisk4j, String uri, Path dir, String nbdcopy, String fio, double[] copy,
                            double[] iops, int round) {
        int port = Ports.free();
        try (PeerProcess ours = PeerProcess.start("tapdisk4j-export", List.of(tapdisk4j, "export", uri,
                "--port", Integer.toString(port), "--bind", "127.0.0.1", "--read-only"), dir, null)) {
            Ports.awaitListening(port, Duration.ofSeconds(60), ours.process());
            measureNbd("nbd://127.0.0.1:" + port + "/", nbdcopy, fio, copy, iops, round);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** One round of qemu-nbd exporting {@code qemuName} with librbd's cache off (--cache=none), as ours. */
    static void qemuNbdRound(String qemuNbd, String qemuName, Path dir, String nbdcopy, String fio, double[] copy,
                             double[] iops, int round) {
        int port = Ports.free();
        Path pid = dir.resolve("qemu-nbd.pid");
        try (PeerProcess theirs = PeerProcess.start("qemu-nbd", List.of(qemuNbd, "-f", "raw", "--cache=none", "-b",
                "127.0.0.1", "-p", Integer.toString(port), "-t", "-r", "-x", "", "--fork", "--pid-file", pid.toString(),
                qemuName), dir, pid)) {
            theirs.awaitLauncherExit(Duration.ofSeconds(60));
            Ports.awaitListening(port, Duration.ofSeconds(60), null);
            measureNbd("nbd://127.0.0.1:" + port + "/", nbdcopy, fio, copy, iops, round);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static void measureNbd(String uri, String nbdcopy, String fio, double[] copy, double[] iops, int round)
            throws Exception {
        time(nbdcopy, "-C", "4", uri, "null:");
        copy[round] = time(nbdcopy, "-C", "4", uri, "null:");
        iops[round] = fioIops(fio, uri);
    }

    static void writeRandom(Path file, long size) throws IOException {
        SplittableRandom r = new SplittableRandom(42);
        byte[] block = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(file)) {
            for (long done = 0; done < size; done += block.length) {
                r.nextBytes(block);
                out.write(block, 0, (int) Math.min(block.length, size - done));
            }
        }
    }

    /** Wall-clock seconds of one whole process, which must succeed. */
    static double time(String... cmd) {
        long start = System.nanoTime();
        String out;
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
                throw new AssertionError(String.join(" ", cmd) + " failed:\n" + out);
            }
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(String.join(" ", cmd) + ": " + e, e);
        }
        double s = (System.nanoTime() - start) / 1e9;
        System.out.println(String.format(Locale.ROOT, "[rbd-bench] %.2f s  %s", s, String.join(" ", cmd)));
        return s;
    }

    static double fioIops(String fio, String uri) throws Exception {
        Process p = new ProcessBuilder(fio, "--name=rr", "--ioengine=nbd", "--uri=" + uri, "--rw=randread", "--bs=4k",
                "--iodepth=32", "--size=" + SIZE, "--runtime=" + FIO_SECONDS, "--time_based", "--readonly",
                "--output-format=json").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        Matcher m = Pattern.compile("\"read\"\\s*:\\s*\\{[^}]*?\"iops\"\\s*:\\s*([0-9.]+)").matcher(out);
        if (!m.find()) {
            throw new AssertionError("no IOPS in fio output:\n" + out);
        }
        double iops = Double.parseDouble(m.group(1));
        System.out.println(String.format(Locale.ROOT, "[rbd-bench] %.0f IOPS  fio 4k randread %s", iops, uri));
        return iops;
    }

    static double memcpyGBps() {
        var a = java.nio.ByteBuffer.allocateDirect(256 << 20);
        var b = java.nio.ByteBuffer.allocateDirect(256 << 20);
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            a.clear();
            b.clear();
            long t = System.nanoTime();
            b.put(a);
            best = Math.min(best, System.nanoTime() - t);
        }
        return (256L << 20) / (best / 1e9) / 1e9;
    }
}
