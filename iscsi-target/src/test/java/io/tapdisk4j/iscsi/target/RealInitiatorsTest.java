package io.tapdisk4j.iscsi.target;

import io.tapdisk4j.block.local.FileDevice;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The target on a raw file, on 127.0.0.1, against real initiators: libiscsi's iscsi-ls and iscsi-inq, QEMU's
 * iSCSI driver (qemu-img convert both ways, qemu-io), CHAP from libiscsi, and hostile connections (logins
 * that never finish, garbage, an initiator vanishing mid-write) while another initiator keeps working.
 */
@Timeout(300)
class RealInitiatorsTest {

    static final String IQN = "iqn.2026-12.io.tapdisk4j.test:real";
    static final int SIZE = 16 << 20;

    @TempDir
    Path dir;
    private Path lun;
    private FileDevice device;
    private IscsiTarget target;

    @BeforeEach
    void start() throws IOException {
        lun = dir.resolve("lun.raw");
        try (var raf = new java.io.RandomAccessFile(lun.toFile(), "rw")) {
            raf.setLength(SIZE);
        }
        device = FileDevice.open(lun.toString(), false, false);
    }

    private void serve(IscsiTargetConfig config) throws IOException {
        target = IscsiTarget.start(device, config, "127.0.0.1", 0);
    }

    @AfterEach
    void stop() {
        if (target != null) {
            target.close();
        }
        device.close();
    }

    private String url() {
        return "iscsi://127.0.0.1:" + target.port() + "/" + IQN + "/0";
    }

    static String run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "timed out: " + command);
        assertEquals(0, p.exitValue(), command + ": " + out);
        return out;
    }

    @Test
    void libiscsiToolsDiscoverAndInquire() throws Exception {
        serve(IscsiTargetConfig.of(IQN));
        String ls = run(List.of(Peers.require("iscsi-ls", "libiscsi-bin"), "-s", "iscsi://127.0.0.1:" + target.port()));
        assertTrue(ls.contains("Target:" + IQN), ls);
        assertTrue(ls.contains("Lun:0") && ls.contains("DIRECT_ACCESS"), ls);
        String inq = run(List.of(Peers.require("iscsi-inq", "libiscsi-bin"), url()));
        assertTrue(inq.contains("Vendor:TAPDISK4") && inq.contains("Product:tapdisk4j"), inq);
        String pages = run(List.of(Peers.require("iscsi-inq", "libiscsi-bin"), "-e", "1", "-c", "0", url()));
        for (String page : List.of("0x80", "0x83", "0xb0", "0xb1", "0xb2")) {
            assertTrue(pages.contains("Page:" + page), pages);
        }
    }

    @Test
    void qemuWritesAndReadsByteForByte() throws Exception {
        serve(IscsiTargetConfig.of(IQN));
        String qemuImg = Peers.require("qemu-img", "qemu-utils");
        Peers.requireFile("/usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so", "qemu-block-extra");
        byte[] data = new byte[SIZE];
        new Random(7).nextBytes(data);
        Arrays.fill(data, 1 << 20, 3 << 20, (byte) 0); // a zero run, which qemu-img may skip or write as zeroes
        Path src = dir.resolve("src.raw");
        Files.write(src, data);
        run(List.of(qemuImg, "convert", "-n", "-f", "raw", "-O", "raw", src.toString(), url()));
        assertArrayEquals(data, Files.readAllBytes(lun), "the LUN holds what qemu-img wrote");
        Path back = dir.resolve("back.raw");
        run(List.of(qemuImg, "convert", "-f", "raw", "-O", "raw", url(), back.toString()));
        assertArrayEquals(data, Files.readAllBytes(back), "qemu-img reads back what is on the LUN");
        String io = run(List.of(Peers.require("qemu-io", "qemu-utils"), "-f", "raw",
                "-c", "write -P 0x5c 5M 192k", "-c", "read -P 0x5c 5M 192k", url()));
        assertFalse(io.contains("Pattern verification failed"), io);
        byte[] after = Files.readAllBytes(lun);
        for (int i = 5 << 20; i < (5 << 20) + (192 << 10); i++) {
            assertEquals(0x5c, after[i] & 0xff, "byte " + i);
        }
    }

    @Test
    void chapIsRequiredAndMutualChapAnswered() throws Exception {
        serve(IscsiTargetConfig.of(IQN).withChap("alice", "alice-secret-12").withMutualChap("tgt", "target-secret-1"));
        String inq = Peers.require("iscsi-inq", "libiscsi-bin");
        String withChap = "iscsi://alice%alice-secret-12@127.0.0.1:" + target.port() + "/" + IQN
                + "/0?target_user=tgt&target_password=target-secret-1";
        assertTrue(run(List.of(inq, withChap)).contains("Vendor:TAPDISK4"));
        Process p = new ProcessBuilder(inq, "iscsi://alice%wrong-secret-123@127.0.0.1:" + target.port() + "/" + IQN + "/0")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertTrue(p.exitValue() != 0, "a wrong secret must not log in: " + out);
    }

    @Test
    void hostileConnectionsAreCutOffWhileAnotherInitiatorIsServed() throws Exception {
        serve(IscsiTargetConfig.of(IQN).withLimits(262144, 64L << 20, 16, Duration.ofSeconds(1)));
        List<Socket> sockets = new ArrayList<>();
        try {
            // A login that never finishes: half a header, then silence.
            Socket silent = new Socket("127.0.0.1", target.port());
            sockets.add(silent);
            silent.getOutputStream().write(new byte[20]);
            // Garbage.
            Socket garbage = new Socket("127.0.0.1", target.port());
            sockets.add(garbage);
            byte[] junk = new byte[4096];
            new Random(3).nextBytes(junk);
            junk[0] = 0x21; // a target opcode: certainly refused
            garbage.getOutputStream().write(junk);
            // Meanwhile a real initiator works.
            String inq = run(List.of(Peers.require("iscsi-inq", "libiscsi-bin"), url()));
            assertTrue(inq.contains("Vendor:TAPDISK4"));
            assertClosedWithin(silent, Duration.ofSeconds(10));
            assertClosedWithin(garbage, Duration.ofSeconds(10));
            // An initiator that vanishes in the middle of a write (qemu-io killed while writing).
            Process writer = new ProcessBuilder(Peers.require("qemu-io", "qemu-utils"), "-f", "raw",
                    "-c", "aio_write -P 0x11 0 8M", "-c", "aio_write -P 0x22 8M 8M", "-c", "aio_flush", url())
                    .redirectErrorStream(true).start();
            writer.destroyForcibly();
            writer.waitFor(30, TimeUnit.SECONDS);
            String io = run(List.of(Peers.require("qemu-io", "qemu-utils"), "-f", "raw",
                    "-c", "write -P 0x33 1M 64k", "-c", "read -P 0x33 1M 64k", url()));
            assertFalse(io.contains("Pattern verification failed"), io);
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (target.connectionCount() > 0 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertEquals(0, target.connectionCount(), "every connection ended");
        } finally {
            for (Socket s : sockets) {
                s.close();
            }
        }
    }

    private static void assertClosedWithin(Socket s, Duration limit) throws IOException {
        s.setSoTimeout((int) limit.toMillis());
        InputStream in = s.getInputStream();
        byte[] b = new byte[4096];
        long deadline = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < deadline) {
            int n;
            try {
                n = in.read(b);
            } catch (java.net.SocketException reset) {
                return;
            }
            if (n < 0) {
                return;
            }
        }
        throw new AssertionError("connection still open after " + limit);
    }

}
