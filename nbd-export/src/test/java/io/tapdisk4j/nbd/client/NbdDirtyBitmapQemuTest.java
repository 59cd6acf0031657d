package io.tapdisk4j.nbd.client;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockStatus;
import io.tapdisk4j.block.DirtyBitmap;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.testsupport.PeerProcess;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.testsupport.Ports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The client against a real server of dirty bitmaps: qemu-nbd {@code -B b0} on a qcow2 whose persistent
 * bitmap qemu-io's writes filled. The client must read {@code qemu:dirty-bitmap:b0} (and base:allocation,
 * which qemu numbers 0) exactly as nbdinfo --map does.
 */
@Timeout(120)
class NbdDirtyBitmapQemuTest {

    @TempDir
    Path dir;

    private static String run(Path dir, String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", cmd) + " timed out");
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + out);
        return out;
    }

    /** nbdinfo --map lines: offset length value description. */
    private static List<BlockStatus> nbdinfo(Path dir, String context, String uri) throws Exception {
        List<BlockStatus> out = new ArrayList<>();
        for (String line : run(dir, Peers.require("nbdinfo", "libnbd-bin"), "--map=" + context, uri).strip().split("\n")) {
            String[] f = line.trim().split("\\s+");
            out.add(new BlockStatus(Long.parseLong(f[0]), Long.parseLong(f[1]), Integer.parseInt(f[2])));
        }
        return merged(out);
    }

    private static List<BlockStatus> merged(List<BlockStatus> runs) {
        List<BlockStatus> out = new ArrayList<>();
        for (BlockStatus r : runs) {
            BlockStatus last = out.isEmpty() ? null : out.getLast();
            if (last != null && last.value() == r.value() && last.end() == r.offset()) {
                out.set(out.size() - 1, new BlockStatus(last.offset(), last.length() + r.length(), r.value()));
            } else {
                out.add(r);
            }
        }
        return out;
    }

    @Test
    void readsQemuNbdsDirtyBitmapAsNbdinfoDoes() throws Exception {
        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        run(dir, qemuImg, "create", "-f", "qcow2", "d.qcow2", "64M");
        run(dir, qemuImg, "bitmap", "--add", "--enable", "-g", "65536", "d.qcow2", "b0");
        run(dir, Peers.require("qemu-io", "qemu-utils"), "-f", "qcow2",
                "-c", "write -P 0xab 64k 64k", "-c", "write 1M 4k", "-c", "write 5000k 300k",
                "-c", "write -z 20M 1M", "-c", "write -P 1 63M 1M", "d.qcow2");
        int port = Ports.free();
        Path pid = dir.resolve("qemu-nbd.pid");
        // An enabled bitmap is exported read-only only (qemu refuses a writable export of it).
        try (PeerProcess p = PeerProcess.start("qemu-nbd-" + port, List.of(Peers.require("qemu-nbd", "qemu-utils"),
                "-p", String.valueOf(port), "-b", "127.0.0.1", "-f", "qcow2", "-r", "-t", "-e", "8", "-x", "q", "-B", "b0",
                dir.resolve("d.qcow2").toString(), "--fork", "--pid-file", pid.toString()), dir, pid)) {
            p.awaitLauncherExit(Duration.ofSeconds(15));
            Ports.awaitListening(port, Duration.ofSeconds(15), null);
            String uri = "nbd://127.0.0.1:" + port + "/q";
            try (BlockDevice d = BlockDevices.loadDefault().open(uri + "?dirty-bitmap=b0,absent")) {
                List<DirtyBitmap> bitmaps = d.dirtyBitmaps();
                assertEquals(List.of("b0"), bitmaps.stream().map(DirtyBitmap::name).toList(),
                        "the bitmap qemu-nbd lacks is not offered");
                List<BlockStatus> ours = merged(bitmaps.getFirst().status(0, d.size()));
                List<BlockStatus> theirs = nbdinfo(dir, "qemu:dirty-bitmap:b0", uri);
                assertEquals(theirs, ours);
                assertEquals(5, ours.stream().filter(r -> r.value() == 1).count(), "one dirty run per qemu-io write: " + ours);

                List<BlockStatus> alloc = new ArrayList<>();
                for (long pos = 0; pos < d.size(); ) {
                    for (Extent e : d.allocation(pos, d.size() - pos).get(30, TimeUnit.SECONDS)) {
                        alloc.add(new BlockStatus(e.offset(), e.length(), (e.hole() ? 1 : 0) | (e.zero() ? 2 : 0)));
                        pos = e.end();
                    }
                }
                assertEquals(nbdinfo(dir, "base:allocation", uri), merged(alloc), "base:allocation under qemu's id 0");
            }
            // Without asking for b0 (the default asks for cbt only) no bitmap is offered.
            try (BlockDevice d = BlockDevices.loadDefault().open(uri)) {
                assertTrue(d.dirtyBitmaps().isEmpty());
            }
        }
    }
}
