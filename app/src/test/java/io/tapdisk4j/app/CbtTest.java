package io.tapdisk4j.app;

import io.tapdisk4j.app.daemon.ControlClient;
import io.tapdisk4j.app.daemon.ControlResponse;
import io.tapdisk4j.app.daemon.Daemon;
import io.tapdisk4j.app.daemon.DaemonOptions;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.cbt.CbtLog;
import io.tapdisk4j.block.cbt.CbtLogs;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.xenbus.BlkfrontXenbus;
import io.tapdisk4j.ring.xenbus.Toolstack;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenstore.XsClient;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Changed-block tracking end to end with real clients: writes through the ring server (an emulated guest),
 * an NBD export (qemu-io) and the vdi commands mark exactly their blocks; nbdinfo, qemu-img map and a libnbd
 * script read the bitmap; SIGKILL leaves an inconsistent log that forces a full backup; an incremental
 * chain restores the VDI byte for byte.
 */
@Timeout(300)
class CbtTest {

    private static final int B = CbtLog.BLOCK_SIZE;

    @TempDir
    Path dir;

    static String[] cli(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int rc = new CommandLine(new Main()).execute(args);
            return new String[]{Integer.toString(rc), o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    static String[] ok(String... args) {
        String[] r = cli(args);
        assertEquals("0", r[0], String.join(" ", args) + ": " + r[1] + r[2]);
        return r;
    }

    static String sh(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "timed out: " + String.join(" ", cmd));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + out);
        return out;
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** The dirty blocks nbdinfo --map=qemu:dirty-bitmap:cbt reports. */
    static BitSet nbdinfoDirty(String uri) throws Exception {
        String map = sh(Peers.require("nbdinfo", "libnbd-bin"), "--map=qemu:dirty-bitmap:cbt", uri);
        BitSet bits = new BitSet();
        for (String line : map.strip().split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f[2].equals("1")) {
                bits.set((int) (Long.parseLong(f[0]) / B), (int) ((Long.parseLong(f[0]) + Long.parseLong(f[1])) / B));
            }
        }
        return bits;
    }

    /** The dirty blocks qemu-img map reports with x-dirty-bitmap (which shows dirty runs as "data": false). */
    static BitSet qemuImgDirty(int port, String export) throws Exception {
        String json = sh(Peers.require("qemu-img", "qemu-utils"), "map", "--output=json", "--image-opts",
                "driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=" + port + ",export=" + export
                        + ",x-dirty-bitmap=qemu:dirty-bitmap:cbt");
        BitSet bits = new BitSet();
        Matcher m = Pattern.compile("\"start\": (\\d+), \"length\": (\\d+),[^}]*\"data\": (true|false)").matcher(json);
        while (m.find()) {
            if (m.group(3).equals("false")) {
                long s = Long.parseLong(m.group(1));
                bits.set((int) (s / B), (int) ((s + Long.parseLong(m.group(2))) / B));
            }
        }
        return bits;
    }

    /** The dirty blocks a libnbd script (nbdsh) reads through block_status. */
    static BitSet libnbdDirty(String uri) throws Exception {
        // nbdsh runs whichever python3 is first on PATH; Debian's, which has python3-libnbd, is /usr/bin/python3.
        String script = """
                import nbd
                h = nbd.NBD()
                h.add_meta_context("qemu:dirty-bitmap:cbt")
                h.connect_uri("%s")
                size = h.get_size()
                out = []
                def cb(meta, offset, entries, err):
                    if meta != "qemu:dirty-bitmap:cbt":
                        return
                    at = offset
                    for i in range(0, len(entries), 2):
                        if entries[i + 1] & 1:
                            out.append("%%d %%d" %% (at, entries[i]))
                        at += entries[i]
                pos = 0
                while pos < size:
                    h.block_status(min(size - pos, 1 << 30), pos, cb)
                    pos += min(size - pos, 1 << 30)
                print("\\n".join(out))
                """.formatted(uri);
        Peers.requireFile("/usr/lib/python3/dist-packages/nbd.py", "python3-libnbd");
        String out = sh("/usr/bin/python3", "-c", script);
        BitSet bits = new BitSet();
        for (String line : out.strip().split("\n")) {
            if (!line.isBlank()) {
                String[] f = line.trim().split(" ");
                long s = Long.parseLong(f[0]);
                bits.set((int) (s / B), (int) ((s + Long.parseLong(f[1])) / B));
            }
        }
        return bits;
    }

    static BitSet bits(int... blocks) {
        BitSet b = new BitSet();
        for (int x : blocks) {
            b.set(x);
        }
        return b;
    }

    private Path raw(String name, long size) throws Exception {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }

    @Test
    void ringServerWritesMarkTheirBlocksAndTheDaemonsExportOffersTheBitmap() throws Exception {
        Path disk = raw("ring.raw", 8L << 20);
        String uri = "file://" + disk;
        ok("vdi", "cbt", "enable", uri);
        Path sim = dir.resolve("sim");
        try (Daemon daemon = Daemon.start(DaemonOptions.sim(sim));
             XsClient xs = XsClient.connect(daemon.xenstoredSocket());
             SimGuest guest = SimGuest.create(sim, 3, 256, 1024)) {
            VbdId id = new VbdId(3, 768);
            Toolstack.createVbd(xs, id, uri, false);
            try (BlkfrontXenbus front = BlkfrontXenbus.connect(xs, guest, id, FrontendOptions.defaults(), Duration.ofSeconds(30));
                 GuestBuffer b = front.emulator().allocateBuffer(16)) {
                b.put(0, new byte[65536]);
                // 64 KiB at 1 MiB: block 16 only; 4 KiB straddling 192 KiB - 2 KiB: blocks 2 and 3.
                assertTrue(front.emulator().write(0, 2048, b, 0, 65536).get(10, TimeUnit.SECONDS).ok());
                assertTrue(front.emulator().write(0, (3L * B - 2048) / 512, b, 0, 4096).get(10, TimeUnit.SECONDS).ok());
                assertTrue(front.emulator().flush(0).get(10, TimeUnit.SECONDS).ok());
                BitSet want = bits(2, 3, 16);
                CbtLog live = CbtLog.read(CbtLogs.logPath(DeviceUri.parse(uri)));
                assertFalse(live.consistent(), "inconsistent on disk while the daemon has it open");
                assertEquals(want, live.bits(), "the bits are in the file before the guest saw its writes complete");

                ControlResponse r = ControlClient.request(daemon.controlSocket(), "export 3/768 0");
                assertTrue(r.ok(), r.body());
                String nbd = r.body().trim();
                assertEquals(want, nbdinfoDirty(nbd));
                assertEquals(want, libnbdDirty(nbd));
                int port = Integer.parseInt(nbd.replaceAll(".*:(\\d+)/.*", "$1"));
                assertEquals(want, qemuImgDirty(port, "3-768"));
            }
        }
        CbtLog closed = CbtLog.read(CbtLogs.logPath(DeviceUri.parse(uri)));
        assertTrue(closed.consistent(), "the daemon closed the device cleanly");
        assertEquals(bits(2, 3, 16), closed.bits());
    }

    @Test
    void nbdExportWritesAreTrackedAndSigkillForcesAFullBackup() throws Exception {
        String qemuIo = Peers.require("qemu-io", "qemu-utils");
        String uri = "file://" + dir.resolve("nbd.vhd");
        ok("vdi", "create", uri, "--size", "16M", "--format", "vhd");
        ok("vdi", "cbt", "enable", uri);
        String base = snapshot(uri);
        int port = freePort();
        String java = ProcessHandle.current().info().command().orElse("java");
        Process export = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), "io.tapdisk4j.app.Main", "export", uri, "--port",
                Integer.toString(port), "--name", "d").redirectErrorStream(true)
                .redirectOutput(dir.resolve("export.log").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (true) {
                try (Socket s = new Socket("127.0.0.1", port)) {
                    break;
                } catch (java.io.IOException notYet) {
                    assertTrue(export.isAlive(), "export died: " + Files.readString(dir.resolve("export.log")));
                    assertTrue(System.nanoTime() < deadline, "export did not listen");
                    Thread.onSpinWait();
                }
            }
            String nbd = "nbd://127.0.0.1:" + port + "/d";
            sh(qemuIo, "-f", "raw", "-c", "write -P 0x5a 4M 128k", "-c", "write -z 10M 4k",
                    "-c", "write -P 1 65535 2", nbd);
            BitSet want = new BitSet();
            want.set(64, 66);   // 4 MiB + 128 KiB
            want.set(160);      // 10 MiB
            want.set(0, 2);     // 2 bytes across the first block boundary
            assertEquals(want, nbdinfoDirty(nbd));
            assertEquals(want, qemuImgDirty(port, "d"));
            assertEquals(want, libnbdDirty(nbd));
            String list = sh(Peers.require("nbdinfo", "libnbd-bin"), "--list", "--content", "nbd://127.0.0.1:" + port);
            assertTrue(list.contains("qemu:allocation-depth") && list.contains("base:allocation"), list);
            String depth = sh(Peers.require("nbdinfo", "libnbd-bin"), "--map=qemu:allocation-depth", nbd);
            assertTrue(depth.lines().anyMatch(l -> l.trim().split("\\s+")[2].equals("1")), depth);

            export.destroyForcibly(); // SIGKILL
            assertTrue(export.waitFor(30, TimeUnit.SECONDS));
        } finally {
            export.destroyForcibly();
        }
        CbtLog log = CbtLog.read(CbtLogs.logPath(DeviceUri.parse(uri)));
        assertFalse(log.consistent(), "a killed daemon leaves the log inconsistent");
        assertTrue(log.bits().get(64) && log.bits().get(160), "the bits of acknowledged writes are in the file");
        String[] st = ok("vdi", "cbt", "status", uri);
        assertTrue(st[1].contains("consistent: no"), st[1]);

        String newer = snapshot(uri);
        String[] changed = cli("vdi", "cbt", "changed", base, newer);
        assertEquals("2", changed[0], changed[1] + changed[2]);
        assertTrue(changed[2].contains("inconsistent"), changed[2]);
        String backup = "file://" + dir.resolve("b.raw");
        ok("vdi", "backup", base, backup);
        String[] inc = ok("vdi", "backup", newer, backup, "--since", base);
        assertTrue(inc[1].startsWith("full backup") && inc[1].contains("inconsistent"), inc[1]);
        String restored = dir.resolve("r.raw").toString();
        ok("vdi", "copy", newer, "file://" + restored);
        sh("cmp", DeviceUri.parse(backup).path(), restored);
        // The leaf's new log starts clean and consistent: the backup after next can be incremental again.
        assertTrue(CbtLog.read(CbtLogs.logPath(DeviceUri.parse(uri))).consistent());
    }

    @Test
    void vdiCommandWritesAreTrackedAndAnIncrementalChainRestoresTheVdi() throws Exception {
        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        long size = 32L << 20;
        String vdi = "file://" + dir.resolve("vdi.vhd");
        ok("vdi", "create", vdi, "--size", "32M", "--format", "vhd");
        ok("vdi", "cbt", "enable", vdi);
        Random rnd = new Random(42);
        TreeSet<Integer> written = new TreeSet<>();
        write(vdi, rnd, 40, written);
        String s1 = snapshot(vdi);
        String backup = "file://" + dir.resolve("backup.raw");
        String[] full = ok("vdi", "backup", s1, backup);
        assertTrue(full[1].startsWith("full backup"), full[1]);

        // The backup target tracks too: an incremental backup marks exactly the blocks it copies.
        ok("vdi", "cbt", "enable", backup);
        written.clear();
        write(vdi, rnd, 25, written);
        String s2 = snapshot(vdi);
        String[] changed = ok("vdi", "cbt", "changed", s1, s2);
        BitSet fromBase64 = BitSet.valueOf(Base64.getDecoder().decode(changed[1].strip()));
        assertEquals(toBits(written), fromBase64);
        String json = ok("vdi", "cbt", "changed", s1, s2, "--json")[1];
        assertTrue(json.startsWith("[{\"offset\":" + (long) written.first() * B), json);
        // export NEW --dirty-since BASE: the same blocks as qemu:dirty-bitmap:cbt, read by nbdinfo and libnbd.
        try (BlockDevice snap = CbtExports.withBitmap(BlockDevices.loadDefault().open(s2,
                        io.tapdisk4j.block.OpenOptions.readOnlyOptions()), s2, s1);
             io.tapdisk4j.nbd.server.NbdServer server = io.tapdisk4j.nbd.server.NbdServer.builder()
                     .export(new io.tapdisk4j.nbd.server.NbdExport("s2", "", snap, true)).bindTcp("127.0.0.1", 0)) {
            String nbd = "nbd://127.0.0.1:" + server.port() + "/s2";
            assertEquals(toBits(written), nbdinfoDirty(nbd));
            assertEquals(toBits(written), libnbdDirty(nbd));
        }
        String[] inc = ok("vdi", "backup", s2, backup, "--since", s1);
        assertTrue(inc[1].startsWith("incremental backup"), inc[1]);
        assertEquals(toBits(written), CbtLog.read(CbtLogs.logPath(DeviceUri.parse(backup))).bits(),
                "vdi backup marked exactly the blocks it wrote into the tracked target");
        ok("vdi", "cbt", "disable", backup);

        TreeSet<Integer> second = new TreeSet<>();
        write(vdi, rnd, 25, second);
        String s3 = snapshot(vdi);
        // The second incremental goes to the backup through an NBD export of it, as to a remote backup store.
        try (BlockDevice target = BlockDevices.loadDefault().open(backup);
             io.tapdisk4j.nbd.server.NbdServer server = io.tapdisk4j.nbd.server.NbdServer.builder()
                     .export(new io.tapdisk4j.nbd.server.NbdExport("b", "backup", target, false))
                     .bindTcp("127.0.0.1", 0)) {
            String[] inc2 = ok("vdi", "backup", s3, "nbd://127.0.0.1:" + server.port() + "/b", "--since", s2);
            assertTrue(inc2[1].startsWith("incremental backup"), inc2[1]);
            assertTrue(inc2[1].contains(io.tapdisk4j.block.Sizes.format((long) second.size() * B) + " copied"),
                    "only the changed blocks were copied: " + inc2[1]);
        }

        String restored = dir.resolve("s3.raw").toString();
        ok("vdi", "copy", s3, "file://" + restored);
        String b = DeviceUri.parse(backup).path();
        sh("cmp", b, restored);
        sh(qemuImg, "compare", "-f", "raw", "-F", "raw", b, restored);
        // And against the live VDI, unchanged since s3, through qemu's own VHD reader of the chain's top.
        String leaf = dir.resolve("leaf.raw").toString();
        ok("vdi", "copy", vdi, "file://" + leaf);
        sh("cmp", b, leaf);
        assertEquals(size, Files.size(Path.of(b)));
    }

    /** Counts the bytes read from a device (what an NBD export served). */
    private static final class CountingReads extends io.tapdisk4j.block.ForwardingBlockDevice {
        final java.util.concurrent.atomic.AtomicLong bytes = new java.util.concurrent.atomic.AtomicLong();
        final List<long[]> reads = java.util.Collections.synchronizedList(new ArrayList<>());

        CountingReads(BlockDevice d) {
            super(d);
        }

        @Override
        public java.util.concurrent.CompletableFuture<io.netty.buffer.ByteBuf> read(long offset, int length) {
            bytes.addAndGet(length);
            reads.add(new long[]{offset, length});
            return delegate.read(offset, length);
        }
    }

    @Test
    void coalesceLeavesTheParentsFrozenLogAlone() throws Exception {
        String vdi = "file://" + dir.resolve("c.vhd");
        ok("vdi", "create", vdi, "--size", "16M", "--format", "vhd");
        ok("vdi", "cbt", "enable", vdi);
        Random rnd = new Random(3);
        TreeSet<Integer> before = new TreeSet<>();
        write(vdi, rnd, 10, before);
        String s1 = snapshot(vdi);
        Path frozen = CbtLogs.logPath(DeviceUri.parse(s1));
        assertEquals(toBits(before), CbtLog.read(frozen).bits());
        TreeSet<Integer> after = new TreeSet<>();
        write(vdi, rnd, 10, after);
        after.removeAll(before);
        assertFalse(after.isEmpty(), "the test needs leaf blocks the snapshot's log does not name");

        Path leafLog = CbtLogs.logPath(DeviceUri.parse(vdi));
        BitSet leafBefore = CbtLog.read(leafLog).bits();
        ok("vdi", "coalesce", vdi);
        CbtLog log = CbtLog.read(frozen);
        assertEquals(toBits(before), log.bits(), "coalesce marked the parent's frozen log");
        assertTrue(log.consistent());
        // Nor does emptying the leaf change its log: the leaf still reads the same.
        CbtLog leaf = CbtLog.read(leafLog);
        assertEquals(leafBefore, leaf.bits());
        assertTrue(leafBefore.stream().allMatch(b -> before.contains(b) || after.contains(b)));
        assertTrue(leaf.consistent());
    }

    @Test
    void incrementalBackupFromARemoteExportReadsOnlyTheChangedBlocks() throws Exception {
        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        String vdi = "file://" + dir.resolve("vdi.vhd");
        ok("vdi", "create", vdi, "--size", "32M", "--format", "vhd");
        ok("vdi", "cbt", "enable", vdi);
        Random rnd = new Random(7);
        write(vdi, rnd, 60, new TreeSet<>());
        String s1 = snapshot(vdi);
        String backup = "file://" + dir.resolve("backup.raw");
        assertTrue(ok("vdi", "backup", s1, backup)[1].startsWith("full backup"));
        TreeSet<Integer> written = new TreeSet<>();
        write(vdi, rnd, 20, written);
        String s2 = snapshot(vdi);

        // The remote side: export NEW --dirty-since BASE; the backup reads it over NBD only.
        try (CountingReads snap = new CountingReads(CbtExports.withBitmap(BlockDevices.loadDefault().open(s2,
                        io.tapdisk4j.block.OpenOptions.readOnlyOptions()), s2, s1));
             io.tapdisk4j.nbd.server.NbdServer server = io.tapdisk4j.nbd.server.NbdServer.builder()
                     .export(new io.tapdisk4j.nbd.server.NbdExport("s2", "", snap, true)).bindTcp("127.0.0.1", 0)) {
            String nbd = "nbd://127.0.0.1:" + server.port() + "/s2";
            String[] inc = ok("vdi", "backup", nbd, backup, "--since", s1);
            assertTrue(inc[1].startsWith("incremental backup") && inc[1].contains("qemu:dirty-bitmap:cbt"), inc[1]);
            // Every read but the format probes of the source's opens (one sector each) lies in a changed
            // block, and together they cover the changed blocks once.
            long changedBytes = 0;
            int probes = 0;
            for (long[] r : snap.reads) {
                if (r[1] <= 512 && !written.contains((int) (r[0] / B))) {
                    probes++;
                    continue;
                }
                for (long blk = r[0] / B; blk <= (r[0] + r[1] - 1) / B; blk++) {
                    assertTrue(written.contains((int) blk), "read of unchanged block " + blk);
                }
                changedBytes += r[1];
            }
            assertEquals((long) written.size() * B, changedBytes, "the export served exactly the changed blocks");
            // Format probes of the source's opens: one sector each for every format tried (qcow2, then vhd).
            assertTrue(probes <= 6, probes + " small reads outside the changed blocks");
            // Without a bitmap on offer (a bitmap name the export lacks) the same command copies everything.
            String[] full = ok("vdi", "backup", nbd + "?dirty-bitmap=other", "file://" + dir.resolve("full.raw"),
                    "--since", s1);
            assertTrue(full[1].startsWith("full backup") && full[1].contains("offers no"), full[1]);
        }
        String restored = dir.resolve("s2.raw").toString();
        ok("vdi", "copy", s2, "file://" + restored);
        String b = DeviceUri.parse(backup).path();
        sh("cmp", b, restored);
        sh(qemuImg, "compare", "-f", "raw", "-F", "raw", b, restored);
        sh("cmp", b, dir.resolve("full.raw").toString());
        String leaf = dir.resolve("leaf.raw").toString();
        ok("vdi", "copy", vdi, "file://" + leaf);
        sh("cmp", b, leaf);
    }

    private static BitSet toBits(TreeSet<Integer> blocks) {
        BitSet b = new BitSet();
        blocks.forEach(b::set);
        return b;
    }

    private static String snapshot(String vdi) {
        String[] r = ok("vdi", "snapshot", vdi);
        return r[1].replaceAll(".* is now a child of (\\S+)\\s*", "$1");
    }

    /** Writes random data at random 64 KiB-aligned-or-not places, recording the blocks touched. */
    private static void write(String uri, Random rnd, int count, TreeSet<Integer> blocks) throws Exception {
        try (BlockDevice d = BlockDevices.loadDefault().open(uri)) {
            for (int i = 0; i < count; i++) {
                int len = 512 * (1 + rnd.nextInt(300));
                long off = 512L * rnd.nextInt((int) ((d.size() - len) / 512));
                byte[] data = new byte[len];
                rnd.nextBytes(data);
                d.write(off, Buffers.direct(len).writeBytes(data), false).get(10, TimeUnit.SECONDS);
                for (long blk = off / B; blk <= (off + len - 1) / B; blk++) {
                    blocks.add((int) blk);
                }
            }
            d.flush().get(10, TimeUnit.SECONDS);
        }
    }
}
