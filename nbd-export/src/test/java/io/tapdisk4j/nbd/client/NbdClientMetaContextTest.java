package io.tapdisk4j.nbd.client;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import io.tapdisk4j.block.BlockStatus;
import io.tapdisk4j.nbd.NbdClientDecoder;
import io.tapdisk4j.nbd.NbdOptionReply;
import io.tapdisk4j.nbd.NbdOptionRequest;
import io.tapdisk4j.nbd.NbdServerGreeting;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.tapdisk4j.nbd.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The client's meta contexts on an EmbeddedChannel: SET_META_CONTEXT asks for base:allocation and the dirty
 * bitmaps, the ids the server picks are kept per context, and block status chunks are decoded per context id,
 * with truncated, oversized and hostile replies refused.
 */
class NbdClientMetaContextTest {

    private static final String CBT = DIRTY_BITMAP + "cbt";

    // ---- negotiation ----

    private static EmbeddedChannel negotiating(NbdClientNegotiation n) {
        EmbeddedChannel ch = new EmbeddedChannel(n);
        ch.writeInbound(new NbdServerGreeting(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES));
        drain(ch);
        ch.writeInbound(new NbdOptionReply(OPT_STRUCTURED_REPLY, REP_ACK, new byte[0]));
        return ch;
    }

    private static List<Object> drain(EmbeddedChannel ch) {
        List<Object> out = new ArrayList<>();
        for (Object o; (o = ch.readOutbound()) != null; ) {
            out.add(o);
            ReferenceCountUtil.release(o);
        }
        return out;
    }

    private static NbdOptionReply context(int id, String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuf b = Unpooled.buffer().writeInt(id).writeBytes(n);
        return new NbdOptionReply(OPT_SET_META_CONTEXT, REP_META_CONTEXT, bytes(b));
    }

    private static byte[] bytes(ByteBuf b) {
        byte[] a = new byte[b.readableBytes()];
        b.readBytes(a);
        return a;
    }

    private static void finishGo(EmbeddedChannel ch) {
        ch.writeInbound(new NbdOptionReply(OPT_SET_META_CONTEXT, REP_ACK, new byte[0]));
        drain(ch);
        ch.writeInbound(new NbdOptionReply(OPT_GO, REP_INFO,
                bytes(Unpooled.buffer().writeShort(INFO_EXPORT).writeLong(1 << 20).writeShort(TF_HAS_FLAGS))));
        ch.writeInbound(new NbdOptionReply(OPT_GO, REP_ACK, new byte[0]));
    }

    @Test
    void asksForAllocationAndTheBitmapsAndKeepsTheIdsTheServerPicks() {
        NbdClientNegotiation n = new NbdClientNegotiation("vdi", null, List.of("cbt", "b2"));
        EmbeddedChannel ch = negotiating(n);
        List<Object> sent = drain(ch);
        NbdOptionRequest set = (NbdOptionRequest) sent.getFirst();
        assertEquals(OPT_SET_META_CONTEXT, set.option());
        ByteBuf q = Unpooled.wrappedBuffer(set.data());
        q.skipBytes(q.readInt());
        assertEquals(3, q.readInt());
        List<String> queries = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            queries.add(q.readCharSequence(q.readInt(), StandardCharsets.UTF_8).toString());
        }
        assertEquals(List.of(BASE_ALLOCATION, CBT, DIRTY_BITMAP + "b2"), queries);

        // qemu numbers base:allocation 0; an unasked context is ignored; b2 the server does not have.
        ch.writeInbound(context(0, BASE_ALLOCATION));
        ch.writeInbound(context(7, DIRTY_BITMAP + "other"));
        ch.writeInbound(context(3, CBT));
        finishGo(ch);
        NbdSession s = n.result().getNow(null);
        assertNotNull(s);
        assertEquals(Map.of(BASE_ALLOCATION, 0, CBT, 3), s.metaContexts());
        assertTrue(s.hasAllocation(), "id 0 is a real context id");
        assertEquals(-1, s.contextId(DIRTY_BITMAP + "b2"));
        ch.finishAndReleaseAll();
    }

    @Test
    void aServerWithoutMetaContextsStillConnects() {
        NbdClientNegotiation n = new NbdClientNegotiation("vdi", null, List.of("cbt"));
        EmbeddedChannel ch = negotiating(n);
        drain(ch);
        ch.writeInbound(new NbdOptionReply(OPT_SET_META_CONTEXT, REP_ERR_UNSUP, new byte[0]));
        drain(ch);
        ch.writeInbound(new NbdOptionReply(OPT_GO, REP_INFO,
                bytes(Unpooled.buffer().writeShort(INFO_EXPORT).writeLong(1 << 20).writeShort(TF_HAS_FLAGS))));
        ch.writeInbound(new NbdOptionReply(OPT_GO, REP_ACK, new byte[0]));
        NbdSession s = n.result().getNow(null);
        assertTrue(s.metaContexts().isEmpty());
        assertFalse(s.hasAllocation());
        ch.finishAndReleaseAll();
    }

    @Test
    void hostileMetaContextRepliesFailTheHandshake() {
        List<List<NbdOptionReply>> cases = List.of(
                List.of(context(1, BASE_ALLOCATION), context(1, CBT)),                 // one id, two contexts
                List.of(context(1, CBT), context(2, CBT)),                             // one context, two ids
                List.of(new NbdOptionReply(OPT_SET_META_CONTEXT, REP_META_CONTEXT, new byte[3])), // truncated
                List.of(new NbdOptionReply(OPT_SET_META_CONTEXT, REP_META_CONTEXT, new byte[4])), // no name
                List.of(new NbdOptionReply(OPT_SET_META_CONTEXT, REP_META_CONTEXT, new byte[4 + MAX_STRING + 1])));
        for (List<NbdOptionReply> replies : cases) {
            NbdClientNegotiation n = new NbdClientNegotiation("vdi", null, List.of("cbt"));
            EmbeddedChannel ch = negotiating(n);
            drain(ch);
            replies.forEach(ch::writeInbound);
            assertTrue(n.result().isCompletedExceptionally(), "accepted " + replies);
            assertTrue(n.result().exceptionNow().getMessage().contains("malformed meta context"),
                    n.result().exceptionNow().getMessage());
            assertFalse(ch.isOpen());
            ch.finishAndReleaseAll();
        }
    }

    // ---- block status per context ----

    private final List<NbdClientRequest> lost = new ArrayList<>();

    private EmbeddedChannel transmitting() {
        EmbeddedChannel ch = new EmbeddedChannel();
        NbdSession s = new NbdSession(1 << 20, TF_HAS_FLAGS, true, Map.of(BASE_ALLOCATION, 0, CBT, 1), 1, 4096, 1 << 20);
        ch.pipeline().addLast(new NbdClientDecoder(1 << 20));
        ch.pipeline().addLast(new NbdClientConnection(ch, s, (c, unanswered, cause) -> lost.addAll(unanswered)));
        return ch;
    }

    private static NbdClientRequest status(EmbeddedChannel ch, String context, long offset, long length) {
        NbdClientRequest r = new NbdClientRequest(CMD_BLOCK_STATUS, 0, offset, length, null,
                System.nanoTime() + 60_000_000_000L, context);
        ((NbdClientConnection) ch.pipeline().last()).submit(r);
        ch.runPendingTasks();
        drain(ch);
        return r;
    }

    /** A structured BLOCK_STATUS chunk for cookie 1: context id then (length, flags) pairs. */
    private static ByteBuf chunk(boolean done, int id, long... pairs) {
        ByteBuf b = Unpooled.buffer().writeInt(STRUCTURED_REPLY_MAGIC).writeShort(done ? REPLY_FLAG_DONE : 0)
                .writeShort(REPLY_TYPE_BLOCK_STATUS).writeLong(1).writeInt(4 + 4 * pairs.length).writeInt(id);
        for (long p : pairs) {
            b.writeInt((int) p);
        }
        return b;
    }

    @Test
    void eachContextsChunkGoesToTheRequestThatAskedForIt() throws Exception {
        EmbeddedChannel ch = transmitting();
        NbdClientRequest r = status(ch, CBT, 65536, 4 * 65536);
        ch.writeInbound(chunk(false, 0, 4 * 65536, STATE_HOLE));
        assertFalse(r.future.isDone());
        // the last run may reach past the request, as the spec allows
        ch.writeInbound(chunk(true, 1, 65536, 0, 2 * 65536, 1, 4 * 65536, 0));
        assertEquals(List.of(new BlockStatus(65536, 65536, 0), new BlockStatus(2 * 65536, 2 * 65536, 1),
                new BlockStatus(4 * 65536, 4 * 65536, 0)), r.future.get());
        assertTrue(ch.isOpen());
        assertTrue(lost.isEmpty());
        ch.finishAndReleaseAll();
    }

    @Test
    void aReplyWithoutTheWantedContextFailsTheRequest() {
        EmbeddedChannel ch = transmitting();
        NbdClientRequest r = status(ch, CBT, 0, 65536);
        ch.writeInbound(chunk(true, 0, 65536, 0));
        assertTrue(r.future.isCompletedExceptionally());
        assertTrue(r.future.exceptionNow().getMessage().contains("no " + CBT + " status"), r.future.exceptionNow().getMessage());
        ch.finishAndReleaseAll();
    }

    @Test
    void hostileStatusChunksDropTheConnectionAndHandTheRequestBack() {
        record Case(String what, ByteBuf bytes) {
        }
        List<Case> cases = List.of(
                new Case("unknown context id", chunk(true, 9, 65536, 1)),
                new Case("zero-length run", chunk(true, 1, 0, 1)),
                new Case("run past the end", chunk(true, 1, 65536, 1, 65536, 0)),
                new Case("context answered twice", Unpooled.wrappedBuffer(chunk(false, 1, 65536, 1), chunk(true, 1, 65536, 1))),
                new Case("half a descriptor", Unpooled.buffer().writeInt(STRUCTURED_REPLY_MAGIC).writeShort(REPLY_FLAG_DONE)
                        .writeShort(REPLY_TYPE_BLOCK_STATUS).writeLong(1).writeInt(16).writeInt(1).writeInt(65536)
                        .writeLong(0)),
                new Case("no descriptors", Unpooled.buffer().writeInt(STRUCTURED_REPLY_MAGIC).writeShort(REPLY_FLAG_DONE)
                        .writeShort(REPLY_TYPE_BLOCK_STATUS).writeLong(1).writeInt(4).writeInt(1)));
        for (Case c : cases) {
            lost.clear();
            EmbeddedChannel ch = transmitting();
            NbdClientRequest r = status(ch, CBT, 0, 65536);
            ch.writeInbound(c.bytes());
            assertFalse(ch.isOpen(), c.what() + ": connection kept");
            assertEquals(List.of(r), lost, c.what() + ": request not handed back for a retry");
            assertFalse(r.future.isDone(), c.what() + ": the owner decides (retry or fail)");
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void oversizedAndTruncatedChunks() {
        EmbeddedChannel ch = transmitting();
        NbdClientRequest r = status(ch, CBT, 0, 65536);
        // a chunk claiming more than the decoder's limit
        try {
            ch.writeInbound(Unpooled.buffer().writeInt(STRUCTURED_REPLY_MAGIC).writeShort(REPLY_FLAG_DONE)
                    .writeShort(REPLY_TYPE_BLOCK_STATUS).writeLong(1).writeInt(64 << 20).writeInt(1));
        } catch (RuntimeException expected) {
            // the decoder's error may surface here or through exceptionCaught; either way the link is dropped
        }
        assertFalse(ch.isOpen());
        assertEquals(List.of(r), lost);
        ch.finishAndReleaseAll();

        lost.clear();
        EmbeddedChannel t = transmitting();
        NbdClientRequest r2 = status(t, CBT, 0, 65536);
        ByteBuf whole = chunk(true, 1, 65536, 1);
        t.writeInbound(whole.readRetainedSlice(whole.readableBytes() - 3));
        assertFalse(r2.future.isDone(), "a truncated chunk completes nothing");
        t.close();
        assertEquals(List.of(r2), lost, "the server hung up mid-chunk: the request goes back for a retry");
        whole.release();
        t.finishAndReleaseAll();
    }

    @Test
    void parsedDescriptorsRefuseBadLayouts() {
        assertNull(NbdStatusDescriptors.parse(Unpooled.buffer().writeInt(10), 0, 100));
        assertNull(NbdStatusDescriptors.parse(Unpooled.buffer(), 0, 100));
        assertEquals(List.of(new BlockStatus(0, 0xFFFF_FFFFL, 1)),
                NbdStatusDescriptors.parse(Unpooled.buffer().writeInt(-1).writeInt(1), 0, 100));
    }
}
