package io.tapdisk4j.nbd.client;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.local.MemoryDevice;
import io.tapdisk4j.nbd.server.NbdExport;
import io.tapdisk4j.nbd.server.NbdServer;
import io.tapdisk4j.testsupport.PeerProcess;
import io.tapdisk4j.testsupport.Ports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The nbd:// backend against nbdkit, qemu-nbd, nbd-server and tapdisk4j's own server, with faults. */
class NbdBlockDeviceTest {

    @TempDir
    Path dir;

    static ByteBuf pattern(int length, int seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return Buffers.direct(length).writeBytes(b);
    }

    static byte[] bytes(ByteBuf b) {
        try {
            byte[] a = new byte[b.readableBytes()];
            b.getBytes(b.readerIndex(), a);
            return a;
        } finally {
            b.release();
        }
    }

    static byte[] expected(int length, int seed) {
        return bytes(pattern(length, seed));
    }

    static BlockDevice open(String uri) throws Exception {
        return BlockDevices.loadDefault().open(uri);
    }

    /** Writes, reads back, zeroes, trims and flushes; many requests in flight at once. */
    static void exercise(BlockDevice d, boolean checkZeroes) throws Exception {
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            writes.add(d.write((long) i * 65536, pattern(65536, i), i % 8 == 0));
        }
        CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        d.flush().get(30, TimeUnit.SECONDS);
        List<CompletableFuture<ByteBuf>> reads = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            reads.add(d.read((long) i * 65536, 65536));
        }
        for (int i = 0; i < 64; i++) {
            assertArrayEquals(expected(65536, i), bytes(reads.get(i).get(30, TimeUnit.SECONDS)), "block " + i);
        }
        if (checkZeroes) {
            d.writeZeroes(65536, 65536, true).get(30, TimeUnit.SECONDS);
            assertArrayEquals(new byte[65536], bytes(d.read(65536, 65536).get(30, TimeUnit.SECONDS)));
        }
        d.discard(10 * 65536, 65536, false).get(30, TimeUnit.SECONDS);
        // An unaligned read crossing block boundaries.
        byte[] b2 = expected(65536, 2);
        byte[] b3 = expected(65536, 3);
        byte[] got = bytes(d.read(2 * 65536 + 1000, 65536).get(30, TimeUnit.SECONDS));
        for (int i = 0; i < 65536; i++) {
            int at = 1000 + i;
            assertEquals(at < 65536 ? b2[at] : b3[at - 65536], got[i], "byte " + i);
        }
        // Large reads, many at once, at unaligned offsets (blocks 11 to 63 still hold their patterns): the data
        // of each reply arrives in a buffer of its own, which the socket mostly reads into directly.
        byte[] written = new byte[53 * 65536];
        for (int i = 11; i < 64; i++) {
            System.arraycopy(expected(65536, i), 0, written, (i - 11) * 65536, 65536);
        }
        List<CompletableFuture<ByteBuf>> large = new ArrayList<>();
        int[] lengths = {3 << 20, 200_000, 1 << 20, 65536, 777_777};
        long base = 11L * 65536;
        for (int k = 0; k < 20; k++) {
            int len = lengths[k % lengths.length];
            long at = base + (k * 40_961L) % (written.length - len);
            large.add(d.read(at, len));
        }
        for (int k = 0; k < 20; k++) {
            int len = lengths[k % lengths.length];
            int rel = (int) ((k * 40_961L) % (written.length - len));
            assertArrayEquals(java.util.Arrays.copyOfRange(written, rel, rel + len), bytes(large.get(k).get(30, TimeUnit.SECONDS)),
                    "large read " + k);
        }
        // Out of range: refused locally with EINVAL.
        var e = assertThrows(java.util.concurrent.ExecutionException.class, () -> d.read(d.size() - 512, 1024).get());
        assertEquals(BlockError.EINVAL, BlockDeviceException.errorOf(e));
    }

    @Test
    void againstOwnServerWithMultiConnAndBlockStatus() throws Exception {
        MemoryDevice mem = new MemoryDevice("client-own", 64 << 20);
        try (NbdServer s = NbdServer.builder().export(new NbdExport("m", null, mem, false)).bindTcp("127.0.0.1", 0);
             BlockDevice d = open("nbd://127.0.0.1:" + s.port() + "/m?connections=4")) {
            assertEquals(64 << 20, d.size());
            assertTrue(d.has(Capability.MULTI_HANDLE_CONSISTENT));
            assertTrue(d.has(Capability.ALLOCATION));
            exercise(d, true);
            List<Extent> ext = d.allocation(0, 64 << 20).get(30, TimeUnit.SECONDS);
            assertEquals(0, ext.getFirst().offset());
            assertFalse(ext.getFirst().hole());
            assertTrue(ext.getLast().hole() && ext.getLast().end() == 64 << 20, ext.toString());
            // Larger than one request: split.
            ByteBuf big = d.read(0, 40 << 20).get(30, TimeUnit.SECONDS);
            assertEquals(40 << 20, big.readableBytes());
            big.release();
        }
    }

    @Test
    void againstOwnServerOverUnixSocket() throws Exception {
        MemoryDevice mem = new MemoryDevice("client-unix", 16 << 20);
        Path sock = dir.resolve("nbd.sock");
        try (NbdServer s = NbdServer.builder().export(new NbdExport("u", null, mem, false)).bindUnix(sock);
             BlockDevice d = open("nbd+unix:///u?socket=" + sock)) {
            exercise(d, true);
        }
    }

    @Test
    void againstNbdkitMemoryAndFile() throws Exception {
        int port = Ports.free();
        try (PeerProcess p = NbdPeers.nbdkit(dir, port, "memory", "64M");
             BlockDevice d = open("nbd://127.0.0.1:" + port + "/")) {
            assertTrue(d.has(Capability.ALLOCATION));
            exercise(d, true);
            List<Extent> ext = d.allocation(0, 64 << 20).get(30, TimeUnit.SECONDS);
            assertTrue(ext.getLast().hole(), ext.toString());
        }
        Path file = dir.resolve("kit.raw");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(16 << 20);
            f.seek(3 << 20);
            f.write(expected(4096, 99));
        }
        int port2 = Ports.free();
        try (PeerProcess p = NbdPeers.nbdkit(dir, port2, "file", file.toString());
             BlockDevice d = open("nbd://127.0.0.1:" + port2 + "/")) {
            assertArrayEquals(expected(4096, 99), bytes(d.read(3 << 20, 4096).get(30, TimeUnit.SECONDS)));
            exercise(d, true);
        }
    }

    @Test
    void againstQemuNbdAndNbdServer() throws Exception {
        Path a = dir.resolve("q.raw");
        Path b = dir.resolve("n.raw");
        for (Path p : List.of(a, b)) {
            try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
                f.setLength(16 << 20);
            }
        }
        int port = Ports.free();
        try (PeerProcess p = NbdPeers.qemuNbd(dir, port, a, "q");
             BlockDevice d = open("nbd://127.0.0.1:" + port + "/q")) {
            exercise(d, true);
        }
        int port2 = Ports.free();
        try (PeerProcess p = NbdPeers.nbdServer(dir, port2, b, "n");
             BlockDevice d = open("nbd://127.0.0.1:" + port2 + "/n")) {
            exercise(d, false);
        }
        byte[] onDisk = Files.readAllBytes(b);
        byte[] want = expected(65536, 5);
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], onDisk[5 * 65536 + i]);
        }
    }

    @Test
    void serverKilledAndRestartedMidStreamLosesNoAcknowledgedWrite() throws Exception {
        Path file = dir.resolve("restart.raw");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(64 << 20);
        }
        int port = Ports.free();
        PeerProcess kit = NbdPeers.nbdkit(dir, port, "file", file.toString());
        int blocks = 512;
        List<CompletableFuture<Void>> writes = new ArrayList<>();
        // The log (slf4j-simple writes to whatever System.err is) must say that the client reconnected.
        java.io.PrintStream originalErr = System.err;
        java.io.ByteArrayOutputStream log = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(new java.io.OutputStream() {
            @Override
            public void write(int b) {
                originalErr.write(b);
                synchronized (log) {
                    log.write(b);
                }
            }
        }, true));
        try (BlockDevice d = open("nbd://127.0.0.1:" + port + "/?connections=2&reconnect-timeout=30&timeout=60")) {
            for (int i = 0; i < blocks; i++) {
                writes.add(d.write((long) i * 65536, pattern(65536, 1000 + i), false));
                if (i == blocks / 3) {
                    kit.kill(); // SIGKILL mid-stream: whatever it had not answered must be sent again
                }
                if (i == blocks / 2) {
                    kit = NbdPeers.nbdkit(dir, port, "file", file.toString());
                }
            }
            CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            d.flush().get(30, TimeUnit.SECONDS);
        } finally {
            System.setErr(originalErr);
            kit.close();
        }
        String logged;
        synchronized (log) {
            logged = log.toString(java.nio.charset.StandardCharsets.UTF_8);
        }
        assertTrue(logged.contains("NBD ") && logged.contains(": reconnected (connection "), logged);
        byte[] onDisk = Files.readAllBytes(file);
        for (int i = 0; i < blocks; i++) {
            byte[] want = expected(65536, 1000 + i);
            for (int j = 0; j < 65536; j += 4093) {
                assertEquals(want[j], onDisk[i * 65536 + j], "block " + i + " byte " + j);
            }
        }
    }

    @Test
    void stalledServerTimesOutCleanly() throws Exception {
        int port = Ports.free();
        try (PeerProcess p = NbdPeers.nbdkit(dir, port, "--filter=delay", "memory", "16M", "delay-read=20");
             BlockDevice d = open("nbd://127.0.0.1:" + port + "/?timeout=1&connections=1")) {
            var e = assertThrows(java.util.concurrent.ExecutionException.class, () -> d.read(0, 4096).get(15, TimeUnit.SECONDS));
            assertEquals(BlockError.ETIMEDOUT, BlockDeviceException.errorOf(e));
            // Writes are not delayed: after the stalled connection was dropped, the device works again.
            d.write(0, pattern(4096, 1), false).get(15, TimeUnit.SECONDS);
        }
    }

    @Test
    void serverErrorsAreReportedNotRetried() throws Exception {
        int port = Ports.free();
        try (PeerProcess p = NbdPeers.nbdkit(dir, port, "--filter=error", "memory", "16M",
                "error-pread-rate=100%", "error-pread=EIO", "error-pwrite-rate=100%", "error-pwrite=ENOSPC");
             BlockDevice d = open("nbd://127.0.0.1:" + port + "/")) {
            var e = assertThrows(java.util.concurrent.ExecutionException.class, () -> d.read(0, 4096).get(15, TimeUnit.SECONDS));
            assertEquals(BlockError.EIO, BlockDeviceException.errorOf(e));
            var w = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> d.write(0, pattern(4096, 1), false).get(15, TimeUnit.SECONDS));
            assertEquals(BlockError.ENOSPC, BlockDeviceException.errorOf(w));
        }
    }

    @Test
    void fuaIsEmulatedWithFlushWhenTheServerLacksIt() throws Exception {
        int port = Ports.free();
        Path log = dir.resolve("fua.log");
        try (PeerProcess p = NbdPeers.nbdkit(dir, port, "--filter=log", "--filter=fua", "memory", "16M",
                "logfile=" + log);
             BlockDevice d = open("nbd://127.0.0.1:" + port + "/")) {
            assertFalse(d.has(Capability.FUA));
            d.write(0, pattern(4096, 4), true).get(15, TimeUnit.SECONDS);
        }
        String text = Files.readString(log);
        assertTrue(text.contains("Flush"), text);
    }

    @Test
    void unreachableServerFailsToOpen() {
        int port = Ports.free();
        var e = assertThrows(BlockDeviceException.class, () -> open("nbd://127.0.0.1:" + port + "/x"));
        assertEquals(BlockError.EIO, e.error());
        assertThrows(BlockDeviceException.class, () -> BlockDevices.loadDefault().open(DeviceUri.parse("nbd+unix:///x"),
                io.tapdisk4j.block.OpenOptions.DEFAULT));
    }
}
