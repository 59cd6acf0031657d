package io.tapdisk4j.image;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.nbd.server.NbdExport;
import io.tapdisk4j.nbd.server.NbdServer;
import io.tapdisk4j.testsupport.PeerProcess;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.testsupport.Ports;
import io.tapdisk4j.vhd.Cmd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@code qemu:allocation-depth} of image chains made and written by qemu-img/qemu-io, read with nbdinfo from
 * our NBD server and from qemu-nbd serving the same chain: qcow2 over qcow2 over raw, and qcow2 over VHD.
 */
@Timeout(300)
class AllocationDepthTest {

    static final long MiB = 1 << 20;

    @TempDir
    Path dir;

    /** One row of nbdinfo's map: offset, length, depth. */
    record Row(long offset, long length, int depth) {
    }

    @Test
    void qcow2OverQcow2OverRawAnswersAsQemuNbd() throws Exception {
        sh(qemuImg(), "create", "-q", "-f", "raw", path("base.raw"), "8M");
        sh(qemuIo(), "-f", "raw", "-c", "write -P 7 1M 64k", path("base.raw"));
        sh(qemuImg(), "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", path("mid.qcow2"), "8M");
        sh(qemuIo(), "-f", "qcow2", "-c", "write -P 1 2M 64k", "-c", "write -z 3M 128k", "-c", "write -P 4 7M 4k",
                path("mid.qcow2"));
        sh(qemuImg(), "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "-b", "mid.qcow2", "-F", "qcow2",
                path("top.qcow2"), "10M");
        sh(qemuIo(), "-f", "qcow2", "-c", "write -P 2 2M 4k", "-c", "write -P 3 3M 8k", "-c", "write -P 5 9M 4k",
                path("top.qcow2"));

        List<Row> qemu = qemuNbdDepth("top.qcow2");
        List<Row> ours = ourDepth("top.qcow2");
        assertEquals(qemu, ours);
        // the chain as built: 1 on the top's clusters, 2 on the middle's and beyond its end (8 MiB), 3 on the base
        assertEquals(1, depthAt(ours, 2 * MiB));
        assertEquals(2, depthAt(ours, 3 * MiB + 65536));
        assertEquals(3, depthAt(ours, 0));
        assertEquals(2, depthAt(ours, 8 * MiB + 4096));
        assertEquals(1, depthAt(ours, 9 * MiB));
    }

    @Test
    void qcow2OverVhdAnswersAsQemuNbdWhereTheVhdHoldsData() throws Exception {
        sh(qemuImg(), "create", "-q", "-f", "vpc", path("base.vhd"), "8M");
        sh(qemuIo(), "-f", "vpc", "-c", "write -P 3 1M 4k", path("base.vhd")); // allocates VHD block 0 (0-2 MiB)
        sh(qemuImg(), "create", "-q", "-f", "qcow2", "-b", "base.vhd", "-F", "vpc", path("top.qcow2"), "8M");
        sh(qemuIo(), "-f", "qcow2", "-c", "write -P 2 5M 4k", path("top.qcow2"));

        List<Row> qemu = qemuNbdDepth("top.qcow2");
        List<Row> ours = ourDepth("top.qcow2");
        // QEMU's vpc driver has no backing files, so it counts every VHD block as held; a VHD without a parent
        // reads zeroes where it has no block, and we say so (0), as for a qcow2 image without a backing file.
        List<Row> expected = new ArrayList<>();
        for (Row r : qemu) {
            if (r.depth() == 2 && r.offset() + r.length() > 2 * MiB) {
                long from = Math.max(r.offset(), 2 * MiB);
                if (from > r.offset()) {
                    expected.add(new Row(r.offset(), from - r.offset(), 2));
                }
                expected.add(new Row(from, r.offset() + r.length() - from, 0));
            } else {
                expected.add(r);
            }
        }
        assertEquals(expected, ours);
        assertEquals(1, depthAt(ours, 5 * MiB));
        assertEquals(2, depthAt(ours, MiB));
    }

    static int depthAt(List<Row> rows, long offset) {
        return rows.stream().filter(r -> r.offset() <= offset && offset < r.offset() + r.length()).findFirst()
                .orElseThrow(() -> new AssertionError("no row at " + offset + ": " + rows)).depth();
    }

    List<Row> ourDepth(String image) throws Exception {
        BlockDevices devices = BlockDevices.loadDefault();
        try (BlockDevice d = devices.open(DeviceUri.parse("file://" + dir.resolve(image)), OpenOptions.readOnlyOptions());
             NbdServer s = NbdServer.builder().export(new NbdExport("d", "test", d, true)).bindTcp("127.0.0.1", 0)) {
            return map("nbd://127.0.0.1:" + s.port() + "/d");
        }
    }

    List<Row> qemuNbdDepth(String image) throws Exception {
        int port = Ports.free();
        Path pid = dir.resolve("qemu-nbd.pid");
        Files.deleteIfExists(pid);
        try (PeerProcess p = PeerProcess.start("qemu-nbd", List.of(Peers.require("qemu-nbd", "qemu-utils"), "-r",
                "-f", "qcow2", "-A", "--persistent", "-b", "127.0.0.1", "-p", Integer.toString(port), "-x", "d",
                "--fork", "--pid-file", pid.toString(), dir.resolve(image).toString()), dir, pid)) {
            p.awaitLauncherExit(Duration.ofSeconds(30));
            Ports.awaitListening(port, Duration.ofSeconds(30), null);
            return map("nbd://127.0.0.1:" + port + "/d");
        }
    }

    static List<Row> map(String uri) throws Exception {
        String out = Cmd.run(Peers.require("nbdinfo", "libnbd-bin"), "--map=qemu:allocation-depth", uri).ok().output();
        List<Row> rows = new ArrayList<>();
        for (String line : out.strip().split("\n")) {
            String[] f = line.trim().split("\\s+");
            rows.add(new Row(Long.parseLong(f[0]), Long.parseLong(f[1]), Integer.parseInt(f[2])));
        }
        return rows;
    }

    String path(String name) {
        return dir.resolve(name).toString();
    }

    static String qemuImg() {
        return Peers.require("qemu-img", "qemu-utils");
    }

    static String qemuIo() {
        return Peers.require("qemu-io", "qemu-utils");
    }

    static void sh(String... cmd) throws Exception {
        Cmd.run(cmd).ok();
    }
}
