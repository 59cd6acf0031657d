package io.tapdisk4j.safety.hostile;

import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.local.MemoryDevice;
import io.tapdisk4j.nbd.server.NbdExport;
import io.tapdisk4j.nbd.server.NbdServer;
import io.tapdisk4j.nbd.server.NbdServerLimits;
import io.tapdisk4j.safety.report.SafetyReport;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Malformed handshakes and commands, slow, flooding and vanishing clients against tapdisk4j's NBD server:
 * it stays up, keeps every export's data, keeps serving a well-behaved client, and its memory stays
 * bounded by its limits.
 */
class NbdHostileClientsTest {

    static final int MAX_PAYLOAD = 1 << 20;
    static final NbdServerLimits LIMITS = new NbdServerLimits(MAX_PAYLOAD, 16, 4L << 20, Duration.ofSeconds(1), 64);

    private static byte[] pattern(int seed, int length) {
        byte[] b = new byte[length];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    @Test
    void randomHostileClientsNeitherStopTheServerNorTouchData() throws Exception {
        long seed = SafetyReport.seedFor("nbd-hostile-clients");
        SplittableRandom r = new SplittableRandom(seed);
        int budget = Math.max(200, SafetyReport.trials());
        try (MemoryDevice disk = new MemoryDevice("disk", 16 << 20);
             MemoryDevice other = new MemoryDevice("other", 16 << 20);
             NbdServer server = NbdServer.builder().limits(LIMITS)
                     .export(new NbdExport("disk", null, disk, false))
                     .export(new NbdExport("other", null, other, false)).bindTcp("127.0.0.1", 0)) {
            byte[] mine = pattern(1, 1 << 20);
            byte[] theirs = pattern(2, 1 << 20);
            try (RawNbdClient good = new RawNbdClient(server.port()).handshake("disk");
                 RawNbdClient neighbour = new RawNbdClient(server.port()).handshake("other")) {
                assertEquals(0, good.write(0, mine));
                assertEquals(0, neighbour.write(0, theirs));
            }
            List<RawNbdClient> slow = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                RawNbdClient s = new RawNbdClient(server.port());
                s.in.readFully(new byte[18]); // the greeting
                s.out.write(0); // one byte of client flags, then nothing: the handshake timer must close it
                s.out.flush();
                slow.add(s);
            }
            int[] kinds = new int[12];
            for (int i = 0; i < budget; i++) {
                int kind = r.nextInt(kinds.length);
                kinds[kind]++;
                try {
                    hostile(server.port(), kind, r);
                } catch (IOException | AssertionError e) {
                    throw new AssertionError("hostile client " + i + " kind " + kind + " (seed " + seed + ")", e);
                }
            }
            for (RawNbdClient s : slow) {
                assertTrue(s.closedByServer(), "a client stuck in the handshake was not dropped");
                s.close();
            }
            try (RawNbdClient good = new RawNbdClient(server.port()).handshake("disk");
                 RawNbdClient neighbour = new RawNbdClient(server.port()).handshake("other")) {
                assertArrayEquals(mine, good.read(0, mine.length), "export data changed by hostile clients");
                assertArrayEquals(theirs, neighbour.read(0, theirs.length), "another export's data changed");
                byte[] fresh = pattern(3, 65536);
                assertEquals(0, good.write(4 << 20, fresh));
                assertArrayEquals(fresh, good.read(4 << 20, fresh.length), "server no longer serves writes correctly");
            }
            System.out.println("[safety] nbd hostile clients: " + budget + " clients by kind " + Arrays.toString(kinds)
                    + ", server up, data intact (seed " + seed + ")");
        }
    }

    /** One hostile client of the given kind; returns when it is done (the server may have dropped it). */
    private static void hostile(int port, int kind, SplittableRandom r) throws IOException {
        switch (kind) {
            case 0 -> { // random bytes instead of a handshake
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                    byte[] junk = new byte[1 + r.nextInt(4096)];
                    r.nextBytes(junk);
                    writeIgnoringReset(s.getOutputStream(), junk);
                }
            }
            case 1 -> new Socket(InetAddress.getLoopbackAddress(), port).close(); // vanishes at once
            case 2 -> { // unknown client flag bits: the server must disconnect
                try (RawNbdClient c = new RawNbdClient(port)) {
                    c.greet(0xfffffff0);
                    assertTrue(c.closedByServer(), "unknown client flags accepted");
                }
            }
            case 3 -> { // an option claiming 4 GiB of data: an error reply (its data then discarded) or a disconnect
                try (RawNbdClient c = new RawNbdClient(port)) {
                    c.greet(3);
                    c.out.writeLong(RawNbdClient.IHAVEOPT);
                    c.out.writeInt(7);
                    c.out.writeInt(-1);
                    c.out.flush();
                    try {
                        assertEquals(RawNbdClient.OPTION_REPLY_MAGIC, c.in.readLong());
                        assertEquals(7, c.in.readInt());
                        assertTrue(c.in.readInt() < 0, "a 4 GiB option got a non-error reply");
                    } catch (java.io.EOFException | SocketException closed) {
                        // dropped: fine
                    }
                }
            }
            case 4 -> { // unknown option, then a truncated one, then gone
                try (RawNbdClient c = new RawNbdClient(port)) {
                    c.greet(3);
                    c.option(1000 + r.nextInt(1000), new byte[r.nextInt(64)]);
                    c.out.writeLong(RawNbdClient.IHAVEOPT);
                    c.out.writeInt(6);
                    c.out.writeInt(100);
                    c.out.write(new byte[10]);
                    c.out.flush();
                }
            }
            case 5 -> { // bad request magic in transmission
                try (RawNbdClient c = new RawNbdClient(port).handshake("disk")) {
                    c.out.writeLong(r.nextLong());
                    c.out.write(new byte[20]);
                    c.out.flush();
                    assertTrue(c.closedByServer(), "bad request magic accepted");
                }
            }
            case 6 -> { // a write far beyond the maximum payload: refused, data never expected
                try (RawNbdClient c = new RawNbdClient(port).handshake("disk")) {
                    c.request(0, 1, 0, 1 << 30, null);
                    c.flushOut();
                    writeIgnoringReset(c.out, new byte[4096]);
                    // Either an error reply or a disconnect; never a success, never a hang.
                    try {
                        int magic = c.in.readInt();
                        assertEquals(RawNbdClient.SIMPLE_REPLY_MAGIC, magic);
                        assertNotEquals(0, c.in.readInt(), "a 1 GiB write was accepted");
                    } catch (java.io.EOFException | SocketException closed) {
                        // dropped: fine
                    }
                }
            }
            case 7 -> { // reads and writes beyond the end: EINVAL, and the connection keeps working
                try (RawNbdClient c = new RawNbdClient(port).handshake("disk")) {
                    long off = c.size - 512 + r.nextInt(1024);
                    long ck = c.request(0, 0, off, 4096, null);
                    c.flushOut();
                    assertNotEquals(0, c.reply(ck, null), "read beyond the end succeeded");
                    long ck2 = c.request(0, 0, Long.MAX_VALUE - 100, 4096, null);
                    c.flushOut();
                    assertNotEquals(0, c.reply(ck2, null), "read at an overflowing offset succeeded");
                    assertEquals(8192, c.read(8 << 20, 8192).length);
                }
            }
            case 8 -> { // a write whose payload never fully arrives, over the first MiB
                try (RawNbdClient c = new RawNbdClient(port).handshake("disk")) {
                    c.request(0, 1, r.nextInt(1 << 19), 65536, null);
                    byte[] part = new byte[r.nextInt(65536)];
                    r.nextBytes(part);
                    c.out.write(part);
                    c.flushOut();
                }
            }
            case 9 -> { // unknown command and unknown flags: errors, then a clean disconnect
                try (RawNbdClient c = new RawNbdClient(port).handshake("disk")) {
                    long ck = c.request(0, 50 + r.nextInt(1000), 0, 0, null);
                    c.flushOut();
                    try {
                        assertNotEquals(0, c.reply(ck, null), "unknown command succeeded");
                        long ck2 = c.request(0x8000, 0, 0, 512, null);
                        c.flushOut();
                        assertNotEquals(0, c.reply(ck2, null), "unknown command flag accepted");
                        c.request(0, 2, 0, 0, null); // NBD_CMD_DISC
                        c.flushOut();
                        assertTrue(c.closedByServer());
                    } catch (java.io.EOFException | SocketException closed) {
                        // a server may also drop such a client
                    }
                }
            }
            case 10 -> { // floods reads without reading replies, then vanishes
                try (RawNbdClient c = new RawNbdClient(port).handshake("disk")) {
                    c.socket.setSoTimeout(2000);
                    for (int i = 0; i < 64; i++) {
                        c.request(0, 0, 0, MAX_PAYLOAD, null);
                    }
                    c.flushOut();
                }
            }
            default -> { // EXPORT_NAME for an export that does not exist: refusal means disconnect
                try (RawNbdClient c = new RawNbdClient(port)) {
                    c.greet(3);
                    c.option(1, ("nope" + r.nextInt(100)).getBytes());
                    assertTrue(c.closedByServer(), "unknown export accepted");
                }
            }
        }
    }

    private static void writeIgnoringReset(OutputStream out, byte[] data) throws IOException {
        try {
            out.write(data);
            out.flush();
        } catch (SocketException reset) {
            // the server already dropped us: that is an acceptable answer to garbage
        }
    }

    @Test
    void clientThatNeverReadsRepliesCannotGrowServerMemoryWithoutBound() throws Exception {
        try (MemoryDevice disk = new MemoryDevice("disk", 64 << 20);
             NbdServer server = NbdServer.builder().limits(LIMITS)
                     .export(new NbdExport("disk", null, disk, false)).bindTcp("127.0.0.1", 0)) {
            long before = Buffers.usedDirectMemory(); // both pools: request data comes from the aligned one
            long requested = 0;
            try (RawNbdClient c = new RawNbdClient(server.port()).handshake("disk")) {
                c.channel.configureBlocking(false);
                ByteBuffer req = ByteBuffer.allocate(28);
                // Send 1 MiB reads and never read a reply, until the server stops reading (our send buffer fills).
                for (long i = 0; i < 10_000_000; i++) {
                    req.clear();
                    req.putInt(RawNbdClient.REQUEST_MAGIC).putShort((short) 0).putShort((short) 0).putLong(i)
                            .putLong((i % 64) * MAX_PAYLOAD).putInt(MAX_PAYLOAD).flip();
                    int n = c.channel.write(req);
                    if (n < 28) {
                        break;
                    }
                    requested += MAX_PAYLOAD;
                }
                long growth = Buffers.usedDirectMemory() - before;
                // Limits: 4 MiB of requests in flight plus a 64 MiB outbound high-water mark, with pool slack.
                long bound = 160L << 20;
                System.out.println("[safety] nbd flood: " + (requested >> 30) + " GiB of reads requested before the"
                        + " server pushed back; pooled memory growth " + (growth >> 20) + " MiB (bound " + (bound >> 20) + " MiB)");
                assertTrue(requested < 10_000_000L * MAX_PAYLOAD, "the server never stopped reading");
                assertTrue(growth < bound, "server memory grew by " + (growth >> 20) + " MiB for a client that did not read");
            }
            // The flooding client vanished: the server still serves.
            try (RawNbdClient good = new RawNbdClient(server.port()).handshake("disk")) {
                byte[] p = pattern(9, 4096);
                assertEquals(0, good.write(0, p));
                assertArrayEquals(p, good.read(0, 4096));
            }
        }
    }
}
