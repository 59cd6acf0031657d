package io.tapdisk4j.nbd.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.tapdisk4j.block.local.MemoryDevice;
import io.tapdisk4j.nbd.Run;
import io.tapdisk4j.testsupport.Peers;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Random;

import static io.tapdisk4j.nbd.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Random and malformed input against the server's decoder and handshake: mutated valid conversations and
 * pure noise, fed in random fragments. Bounded and seeded (-Dnbd.fuzz.seed=N repeats a run; the seed is
 * printed). The server must never throw past its pipeline, never leak a buffer, and keep serving others.
 */
class NbdServerFuzzTest {

    static final int ROUNDS = Integer.getInteger("nbd.fuzz.rounds", 3000);

    /** A plausible client conversation: flags, some options, GO, then requests. */
    static ByteBuf conversation(Random r) {
        ByteBuf b = Unpooled.buffer();
        b.writeInt(r.nextInt(4) == 0 ? r.nextInt() : FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
        int options = r.nextInt(4);
        for (int i = 0; i < options; i++) {
            int opt = r.nextInt(13);
            byte[] data = new byte[r.nextInt(3) == 0 ? r.nextInt(64) : 0];
            r.nextBytes(data);
            b.writeLong(IHAVEOPT).writeInt(opt).writeInt(data.length).writeBytes(data);
        }
        if (r.nextBoolean()) {
            b.writeLong(IHAVEOPT).writeInt(OPT_STRUCTURED_REPLY).writeInt(0);
        }
        b.writeLong(IHAVEOPT).writeInt(OPT_GO).writeInt(7).writeInt(1).writeByte('d').writeShort(0);
        int requests = r.nextInt(8);
        for (int i = 0; i < requests; i++) {
            int type = r.nextInt(10);
            int len = r.nextInt(3) == 0 ? r.nextInt() : r.nextInt(8192);
            long off = r.nextInt(3) == 0 ? r.nextLong() : r.nextInt(1 << 20);
            b.writeInt(REQUEST_MAGIC).writeShort(r.nextInt(4) == 0 ? r.nextInt(65536) : 0).writeShort(type)
                    .writeLong(i).writeLong(off).writeInt(len);
            if (type == CMD_WRITE && len >= 0 && len < 8192) {
                b.writeZero(len);
            }
        }
        return b;
    }

    static void mutate(ByteBuf b, Random r) {
        int n = r.nextInt(4);
        for (int i = 0; i < n && b.readableBytes() > 0; i++) {
            b.setByte(r.nextInt(b.readableBytes()), r.nextInt(256));
        }
        if (r.nextInt(4) == 0 && b.readableBytes() > 0) {
            b.writerIndex(r.nextInt(b.readableBytes())); // truncated
        }
    }

    @Test
    void mutatedConversationsAndNoiseOnThePipeline() {
        long seed = Long.getLong("nbd.fuzz.seed", System.nanoTime());
        System.out.println("NbdServerFuzzTest seed " + seed + " (-Dnbd.fuzz.seed=" + seed + " repeats it)");
        Random r = new Random(seed);
        MemoryDevice d = new MemoryDevice("fuzz", 1 << 20);
        NbdExports exports = new NbdExports().add(new NbdExport("d", null, d, false));
        for (int round = 0; round < ROUNDS; round++) {
            EmbeddedChannel ch = NbdServerPipelineTest.server(exports, NbdServerLimits.DEFAULT.withMaxPayload(1 << 20), null);
            ByteBuf input;
            if (r.nextInt(5) == 0) {
                input = Unpooled.buffer();
                byte[] noise = new byte[r.nextInt(512)];
                r.nextBytes(noise);
                input.writeBytes(noise);
            } else {
                input = conversation(r);
                mutate(input, r);
            }
            try {
                while (input.isReadable() && ch.isOpen()) {
                    ch.writeInbound(input.readRetainedSlice(Math.min(input.readableBytes(), 1 + r.nextInt(200))));
                    ByteBuf o;
                    while ((o = ch.readOutbound()) != null) {
                        o.release();
                    }
                }
            } catch (RuntimeException e) {
                fail("round " + round + " (seed " + seed + "): " + e, e);
            } finally {
                input.release();
                ch.finishAndReleaseAll();
            }
        }
    }

    @Test
    void hostileSocketsDoNotHurtTheServer() throws Exception {
        long seed = Long.getLong("nbd.fuzz.seed", System.nanoTime());
        System.out.println("NbdServerFuzzTest socket seed " + seed);
        Random r = new Random(seed);
        MemoryDevice d = new MemoryDevice("fuzz-tcp", 16 << 20);
        try (NbdServer s = NbdServer.builder().export(new NbdExport("d", null, d, false)).bindTcp("127.0.0.1", 0)) {
            for (int i = 0; i < 40; i++) {
                try (Socket sock = new Socket()) {
                    sock.connect(new InetSocketAddress("127.0.0.1", s.port()), 2000);
                    sock.setSoTimeout(2000);
                    OutputStream out = sock.getOutputStream();
                    InputStream in = sock.getInputStream();
                    in.readNBytes(18);
                    ByteBuf b = i % 3 == 0 ? Unpooled.wrappedBuffer(new byte[r.nextInt(4096)]) : conversation(r);
                    if (i % 3 == 0) {
                        r.nextBytes(b.array());
                    } else {
                        mutate(b, r);
                    }
                    byte[] bytes = new byte[b.readableBytes()];
                    b.readBytes(bytes);
                    b.release();
                    out.write(bytes);
                    out.flush();
                } catch (SocketException e) {
                    // the server hung up on garbage: expected
                }
            }
            String info = Run.ok(Peers.require("nbdinfo", "libnbd-bin"), "--size", "nbd://127.0.0.1:" + s.port() + "/d").output();
            assertEquals("16777216", info.trim());
        }
    }

    @Test
    void clientsVanishingMidRequestOnRealSocketsLeakNothing() throws Exception {
        MemoryDevice d = new MemoryDevice("vanish", 64 << 20);
        try (NbdServer s = NbdServer.builder().export(new NbdExport("d", null, d, false)).bindTcp("127.0.0.1", 0)) {
            for (int i = 0; i < 20; i++) {
                try (Socket sock = new Socket("127.0.0.1", s.port())) {
                    OutputStream out = sock.getOutputStream();
                    sock.getInputStream().readNBytes(18);
                    ByteBuf b = Unpooled.buffer().writeInt(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES)
                            .writeLong(IHAVEOPT).writeInt(OPT_STRUCTURED_REPLY).writeInt(0)
                            .writeLong(IHAVEOPT).writeInt(OPT_GO).writeInt(7).writeInt(1).writeByte('d').writeShort(0);
                    for (int r = 0; r < 32; r++) { // reads whose replies nobody will read
                        b.writeInt(REQUEST_MAGIC).writeShort(0).writeShort(CMD_READ).writeLong(r).writeLong((long) r << 20).writeInt(1 << 20);
                    }
                    // and a write whose payload stops half way
                    b.writeInt(REQUEST_MAGIC).writeShort(0).writeShort(CMD_WRITE).writeLong(99).writeLong(0).writeInt(1 << 20);
                    b.writeZero(i * 20000);
                    byte[] bytes = new byte[b.readableBytes()];
                    b.readBytes(bytes);
                    b.release();
                    out.write(bytes);
                    out.flush();
                }
            }
            // Every connection goes away and the server stays healthy; LeakCheck verifies no buffer leaked.
            String info = Run.ok(Peers.require("nbdinfo", "libnbd-bin"), "--size", "nbd://127.0.0.1:" + s.port() + "/d").output();
            assertEquals(String.valueOf(64 << 20), info.trim());
        }
    }

    @Test
    void connectionLimitRefusesExtraClients() throws Exception {
        MemoryDevice d = new MemoryDevice("limit", 1 << 20);
        try (NbdServer s = NbdServer.builder().export(new NbdExport("d", null, d, false))
                .limits(NbdServerLimits.DEFAULT.withMaxConnections(2)).bindTcp("127.0.0.1", 0);
             Socket a = new Socket("127.0.0.1", s.port());
             Socket b = new Socket("127.0.0.1", s.port());
             Socket c = new Socket("127.0.0.1", s.port())) {
            assertEquals(18, a.getInputStream().readNBytes(18).length);
            assertEquals(18, b.getInputStream().readNBytes(18).length);
            c.setSoTimeout(5000);
            assertEquals(-1, c.getInputStream().read(), "the third client is closed without a greeting");
        }
    }
}
