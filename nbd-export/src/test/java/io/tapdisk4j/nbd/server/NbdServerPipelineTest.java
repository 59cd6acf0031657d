package io.tapdisk4j.nbd.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.local.MemoryDevice;
import io.tapdisk4j.nbd.NbdProtocol;
import io.tapdisk4j.nbd.NbdServerDecoder;
import io.tapdisk4j.nbd.NbdServerEncoder;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.tapdisk4j.nbd.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/** The whole server pipeline on an EmbeddedChannel: negotiation, transmission, limits, bad clients. */
class NbdServerPipelineTest {

    static EmbeddedChannel server(NbdExports exports, NbdServerLimits limits, NbdServerTls tls) {
        return new EmbeddedChannel(new NbdServerDecoder(NbdServerDecoder.DEFAULT_MAX_OPTION_LENGTH, limits.maxPayload()),
                NbdServerEncoder.INSTANCE, new NbdOptionNegotiation(exports, limits, tls));
    }

    static NbdExports exports(BlockDevice d, boolean ro) {
        return new NbdExports().add(new NbdExport("d", "desc", d, ro));
    }

    /** Everything the server wrote so far, as one buffer. */
    static ByteBuf out(EmbeddedChannel ch) {
        ByteBuf all = Unpooled.buffer();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            all.writeBytes(b);
            b.release();
        }
        return all;
    }

    static void send(EmbeddedChannel ch, ByteBuf b) {
        ch.writeInbound(b);
    }

    static ByteBuf option(int opt, ByteBuf data) {
        ByteBuf b = Unpooled.buffer().writeLong(IHAVEOPT).writeInt(opt).writeInt(data.readableBytes()).writeBytes(data);
        data.release();
        return b;
    }

    static ByteBuf goData(String name, int... infos) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuf b = Unpooled.buffer().writeInt(n.length).writeBytes(n).writeShort(infos.length);
        for (int i : infos) {
            b.writeShort(i);
        }
        return b;
    }

    static ByteBuf request(int flags, int type, long cookie, long offset, int length) {
        return Unpooled.buffer().writeInt(REQUEST_MAGIC).writeShort(flags).writeShort(type)
                .writeLong(cookie).writeLong(offset).writeInt(length);
    }

    /** Reads one option reply: returns its type, skipping its data. */
    static int replyType(ByteBuf o, int expectOption) {
        assertEquals(OPTION_REPLY_MAGIC, o.readLong());
        assertEquals(expectOption, o.readInt());
        int type = o.readInt();
        o.skipBytes(o.readInt());
        return type;
    }

    /** Greeting read, flags sent: ready for options. */
    static EmbeddedChannel negotiating(NbdExports e, NbdServerTls tls) {
        EmbeddedChannel ch = server(e, NbdServerLimits.DEFAULT, tls);
        ByteBuf g = out(ch);
        assertEquals(NBDMAGIC, g.readLong());
        assertEquals(IHAVEOPT, g.readLong());
        assertEquals(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, g.readUnsignedShort());
        g.release();
        send(ch, Unpooled.buffer().writeInt(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES));
        return ch;
    }

    /** Negotiated with GO, structured replies as asked, ready for requests. */
    static EmbeddedChannel transmitting(NbdExports e, boolean structured) {
        EmbeddedChannel ch = negotiating(e, null);
        if (structured) {
            send(ch, option(OPT_STRUCTURED_REPLY, Unpooled.buffer()));
            ByteBuf o = out(ch);
            assertEquals(REP_ACK, replyType(o, OPT_STRUCTURED_REPLY));
            o.release();
        }
        send(ch, option(OPT_GO, goData("d")));
        ByteBuf o = out(ch);
        int t;
        while ((t = replyType(o, OPT_GO)) == REP_INFO) {
            // info replies
        }
        assertEquals(REP_ACK, t);
        o.release();
        assertNotNull(ch.pipeline().get(NbdTransmissionHandler.class));
        return ch;
    }

    static int simpleError(ByteBuf o, long cookie) {
        assertEquals(SIMPLE_REPLY_MAGIC, o.readInt());
        int err = o.readInt();
        assertEquals(cookie, o.readLong());
        return err;
    }

    @Test
    void unknownOptionIsUnsupportedAndNegotiationContinues() {
        EmbeddedChannel ch = negotiating(exports(new MemoryDevice("p1", 1 << 20), false), null);
        send(ch, option(99, Unpooled.buffer()));
        send(ch, option(OPT_EXTENDED_HEADERS, Unpooled.buffer()));
        send(ch, option(OPT_LIST, Unpooled.buffer().writeInt(1)));
        send(ch, option(OPT_STARTTLS, Unpooled.buffer()));
        send(ch, option(OPT_INFO, goData("missing")));
        send(ch, option(OPT_INFO, Unpooled.buffer().writeInt(500).writeByte(1)));
        send(ch, option(OPT_SET_META_CONTEXT, Unpooled.buffer()));
        ByteBuf o = out(ch);
        assertEquals(REP_ERR_UNSUP, replyType(o, 99));
        assertEquals(REP_ERR_UNSUP, replyType(o, OPT_EXTENDED_HEADERS));
        assertEquals(REP_ERR_INVALID, replyType(o, OPT_LIST));
        assertEquals(REP_ERR_POLICY, replyType(o, OPT_STARTTLS));
        assertEquals(REP_ERR_UNKNOWN, replyType(o, OPT_INFO));
        assertEquals(REP_ERR_INVALID, replyType(o, OPT_INFO));
        assertEquals(REP_ERR_INVALID, replyType(o, OPT_SET_META_CONTEXT), "SET_META_CONTEXT before STRUCTURED_REPLY");
        o.release();
        assertTrue(ch.isActive());
        ch.finishAndReleaseAll();
    }

    @Test
    void tooBigOptionGetsErrTooBig() {
        EmbeddedChannel ch = negotiating(exports(new MemoryDevice("p2", 1 << 20), false), null);
        send(ch, option(OPT_INFO, Unpooled.buffer().writeZero(100_000)));
        ByteBuf o = out(ch);
        assertEquals(REP_ERR_TOO_BIG, replyType(o, OPT_INFO));
        o.release();
        ch.finishAndReleaseAll();
    }

    @Test
    void unknownClientFlagsDisconnect() {
        EmbeddedChannel ch = server(exports(new MemoryDevice("p3", 1 << 20), false), NbdServerLimits.DEFAULT, null);
        out(ch).release();
        send(ch, Unpooled.buffer().writeInt(0x80));
        assertFalse(ch.isActive());
        ch.finishAndReleaseAll();
    }

    @Test
    void exportNameWithZeroesAndUnknownNameDisconnects() {
        MemoryDevice d = new MemoryDevice("p4", 1 << 20);
        EmbeddedChannel ch = server(exports(d, false), NbdServerLimits.DEFAULT, null);
        out(ch).release();
        send(ch, Unpooled.buffer().writeInt(FLAG_FIXED_NEWSTYLE));
        send(ch, option(OPT_EXPORT_NAME, Unpooled.copiedBuffer("d", StandardCharsets.UTF_8)));
        ByteBuf o = out(ch);
        assertEquals(134, o.readableBytes());
        assertEquals(1 << 20, o.readLong());
        int flags = o.readUnsignedShort();
        assertEquals(0, flags & TF_READ_ONLY);
        assertNotEquals(0, flags & TF_CAN_MULTI_CONN);
        o.release();
        // Simple replies: READ gets header + data.
        send(ch, request(0, CMD_READ, 11, 0, 512));
        ByteBuf r = out(ch);
        assertEquals(0, simpleError(r, 11));
        assertEquals(512, r.readableBytes());
        r.release();
        ch.finishAndReleaseAll();

        EmbeddedChannel ch2 = server(exports(d, false), NbdServerLimits.DEFAULT, null);
        out(ch2).release();
        send(ch2, Unpooled.buffer().writeInt(FLAG_FIXED_NEWSTYLE));
        send(ch2, option(OPT_EXPORT_NAME, Unpooled.copiedBuffer("nope", StandardCharsets.UTF_8)));
        assertFalse(ch2.isActive());
        ch2.finishAndReleaseAll();
    }

    @Test
    void tlsRequiredRefusesEverythingButStartTls() {
        NbdServerTls tls = new NbdServerTls() {
            @Override
            public NbdTlsMode mode() {
                return NbdTlsMode.REQUIRE;
            }

            @Override
            public io.netty.channel.ChannelHandler newHandler(io.netty.channel.Channel channel) {
                throw new IllegalStateException("not in this test");
            }
        };
        EmbeddedChannel ch = negotiating(exports(new MemoryDevice("p5", 1 << 20), false), tls);
        send(ch, option(OPT_LIST, Unpooled.buffer()));
        send(ch, option(OPT_GO, goData("d")));
        send(ch, option(OPT_STRUCTURED_REPLY, Unpooled.buffer()));
        ByteBuf o = out(ch);
        assertEquals(REP_ERR_TLS_REQD, replyType(o, OPT_LIST));
        assertEquals(REP_ERR_TLS_REQD, replyType(o, OPT_GO));
        assertEquals(REP_ERR_TLS_REQD, replyType(o, OPT_STRUCTURED_REPLY));
        o.release();
        send(ch, option(OPT_EXPORT_NAME, Unpooled.copiedBuffer("d", StandardCharsets.UTF_8)));
        assertFalse(ch.isActive(), "EXPORT_NAME before TLS disconnects");
        ch.finishAndReleaseAll();
    }

    static NbdServerTls passThroughTls(NbdTlsMode mode) {
        return new NbdServerTls() {
            @Override
            public NbdTlsMode mode() {
                return mode;
            }

            @Override
            public io.netty.channel.ChannelHandler newHandler(io.netty.channel.Channel channel) {
                return new io.netty.channel.ChannelDuplexHandler(); // stands in for TLS: the state machine is under test
            }
        };
    }

    @Test
    void plainTextPipelinedBehindStartTlsIsRefused() {
        EmbeddedChannel ch = negotiating(exports(new MemoryDevice("p11", 1 << 20), false), passThroughTls(NbdTlsMode.REQUIRE));
        ByteBuf both = option(OPT_STARTTLS, Unpooled.buffer());
        both.writeBytes(option(OPT_GO, goData("d")));
        ch.writeInbound(both);
        ByteBuf o = out(ch);
        while (o.isReadable()) {
            assertNotEquals(OPT_GO, replyOptionOf(o), "GO must not be answered: it came in plain text");
        }
        o.release();
        assertFalse(ch.isActive());
        assertNull(ch.pipeline().get(NbdTransmissionHandler.class));
        ch.finishAndReleaseAll();
    }

    static int replyOptionOf(ByteBuf o) {
        o.skipBytes(8);
        int opt = o.readInt();
        o.skipBytes(4);
        o.skipBytes(o.readInt());
        return opt;
    }

    @Test
    void startTlsThenOptionsThroughTheTlsHandler() {
        EmbeddedChannel ch = negotiating(exports(new MemoryDevice("p12", 1 << 20), false), passThroughTls(NbdTlsMode.REQUIRE));
        send(ch, option(OPT_STARTTLS, Unpooled.buffer()));
        ByteBuf o = out(ch);
        assertEquals(REP_ACK, replyType(o, OPT_STARTTLS));
        o.release();
        assertNotNull(ch.pipeline().get("tls"));
        send(ch, option(OPT_STARTTLS, Unpooled.buffer()));
        send(ch, option(OPT_LIST, Unpooled.buffer()));
        ByteBuf o2 = out(ch);
        assertEquals(REP_ERR_INVALID, replyType(o2, OPT_STARTTLS), "a second STARTTLS");
        assertEquals(REP_SERVER, replyType(o2, OPT_LIST));
        assertEquals(REP_ACK, replyType(o2, OPT_LIST));
        o2.release();
        ch.finishAndReleaseAll();
    }

    @Test
    void refusedStartTlsLeavesNegotiationGoing() {
        EmbeddedChannel ch = negotiating(exports(new MemoryDevice("p13", 1 << 20), false), null);
        send(ch, option(OPT_STARTTLS, Unpooled.buffer()));
        send(ch, option(OPT_LIST, Unpooled.buffer()));
        ByteBuf o = out(ch);
        assertEquals(REP_ERR_POLICY, replyType(o, OPT_STARTTLS));
        assertEquals(REP_SERVER, replyType(o, OPT_LIST));
        o.release();
        assertTrue(ch.isActive());
        ch.finishAndReleaseAll();
    }

    @Test
    void handshakeTimeoutCloses() {
        NbdServerLimits limits = NbdServerLimits.DEFAULT.withHandshakeTimeout(Duration.ofSeconds(5));
        EmbeddedChannel ch = server(exports(new MemoryDevice("p6", 1 << 20), false), limits, null);
        out(ch).release();
        ch.advanceTimeBy(4, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertTrue(ch.isActive());
        ch.advanceTimeBy(2, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertFalse(ch.isActive());
        ch.finishAndReleaseAll();
    }

    @Test
    void transmissionErrors() {
        MemoryDevice d = new MemoryDevice("p7", 1 << 20);
        EmbeddedChannel ch = transmitting(exports(d, false), false);
        send(ch, request(0, 42, 1, 0, 0));                       // unknown command
        send(ch, request(0, CMD_READ, 2, (1 << 20) - 256, 512));  // beyond the end
        send(ch, request(0, CMD_READ, 3, -1, 512));               // offset with the top bit set
        send(ch, request(1 << 9, CMD_READ, 4, 0, 512));           // unknown flag
        send(ch, request(0, CMD_READ, 5, 0, 64 << 20));           // over the maximum payload
        send(ch, request(0, CMD_BLOCK_STATUS, 6, 0, 4096));       // no meta context
        send(ch, request(0, CMD_WRITE_ZEROES, 7, 1 << 20, 1));    // beyond the end
        send(ch, request(0, CMD_TRIM, 8, 0, 4096));
        send(ch, request(0, CMD_FLUSH, 9, 0, 0));
        send(ch, request(0, CMD_CACHE, 10, 0, 4096));
        ByteBuf o = out(ch);
        assertEquals(EINVAL, simpleError(o, 1));
        assertEquals(EINVAL, simpleError(o, 2));
        assertEquals(EINVAL, simpleError(o, 3));
        assertEquals(EINVAL, simpleError(o, 4));
        assertEquals(EINVAL, simpleError(o, 5));
        assertEquals(EINVAL, simpleError(o, 6));
        assertEquals(ENOSPC, simpleError(o, 7));
        assertEquals(0, simpleError(o, 8));
        assertEquals(0, simpleError(o, 9));
        assertEquals(0, simpleError(o, 10));
        assertFalse(o.isReadable());
        o.release();
        // An oversized write: its payload is consumed and refused, the connection lives on.
        ByteBuf w = request(0, CMD_WRITE, 11, 0, (32 << 20) + 1).writeZero((32 << 20) + 1);
        send(ch, w);
        send(ch, request(0, CMD_DISC, 12, 0, 0));
        ByteBuf o2 = out(ch);
        assertEquals(EINVAL, simpleError(o2, 11));
        o2.release();
        assertFalse(ch.isActive(), "DISC closes");
        ch.finishAndReleaseAll();
    }

    @Test
    void readOnlyExportRefusesWritesWithEperm() {
        MemoryDevice d = new MemoryDevice("p8", 1 << 20);
        EmbeddedChannel ch = transmitting(exports(d, true), true);
        send(ch, request(0, CMD_WRITE, 1, 0, 4).writeInt(7));
        send(ch, request(0, CMD_TRIM, 2, 0, 4096));
        send(ch, request(0, CMD_WRITE_ZEROES, 3, 0, 4096));
        send(ch, request(0, CMD_READ, 4, 1 << 20, 512));
        ByteBuf o = out(ch);
        assertEquals(EPERM, simpleError(o, 1));
        assertEquals(EPERM, simpleError(o, 2));
        assertEquals(EPERM, simpleError(o, 3));
        // With structured replies a failed READ gets an error chunk.
        assertEquals(STRUCTURED_REPLY_MAGIC, o.readInt());
        assertEquals(REPLY_FLAG_DONE, o.readUnsignedShort());
        assertEquals(REPLY_TYPE_ERROR, o.readUnsignedShort());
        assertEquals(4, o.readLong());
        o.skipBytes(4);
        assertEquals(EINVAL, o.readInt());
        o.release();
        ch.finishAndReleaseAll();
    }

    @Test
    void clientVanishingMidRequestLeaksNothing() {
        CompletableFuture<io.netty.buffer.ByteBuf> pending = new CompletableFuture<>();
        MemoryDevice mem = new MemoryDevice("p9", 1 << 20);
        BlockDevice slow = new DelegatingDevice(mem) {
            @Override
            public CompletableFuture<io.netty.buffer.ByteBuf> read(long offset, int length) {
                return pending;
            }
        };
        EmbeddedChannel ch = transmitting(exports(slow, false), true);
        send(ch, request(0, CMD_READ, 1, 0, 65536));
        ByteBuf half = request(0, CMD_WRITE, 2, 0, 65536).writeZero(1000);
        send(ch, half); // the client dies in the middle of a write payload
        ch.close();
        pending.complete(io.tapdisk4j.block.Buffers.zeroes(65536)); // the device answers after the client is gone
        ch.runPendingTasks();
        ch.finishAndReleaseAll();
        // The LeakCheck extension fails this class if the read's buffer or the partial write leaked.
    }

    @Test
    void backpressureStopsReadingPastTheInFlightLimit() {
        CompletableFuture<Void> gate = new CompletableFuture<>();
        MemoryDevice mem = new MemoryDevice("p10", 1 << 20);
        BlockDevice gated = new DelegatingDevice(mem) {
            @Override
            public CompletableFuture<Void> flush() {
                return gate;
            }
        };
        NbdServerLimits limits = new NbdServerLimits(1 << 20, 4, 4 << 20, Duration.ofSeconds(30), 10);
        NbdExports e = exports(gated, false);
        EmbeddedChannel ch = server(e, limits, null);
        out(ch).release();
        send(ch, Unpooled.buffer().writeInt(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES));
        send(ch, option(OPT_GO, goData("d")));
        out(ch).release();
        for (int i = 0; i < 4; i++) {
            send(ch, request(0, CMD_FLUSH, i, 0, 0));
        }
        assertFalse(ch.config().isAutoRead(), "4 outstanding flushes: reading stops");
        gate.complete(null);
        assertTrue(ch.config().isAutoRead());
        ByteBuf o = out(ch);
        assertEquals(4 * 16, o.readableBytes());
        o.release();
        ch.finishAndReleaseAll();
    }
}
