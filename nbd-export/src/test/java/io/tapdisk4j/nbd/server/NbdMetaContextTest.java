package io.tapdisk4j.nbd.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockStatus;
import io.tapdisk4j.block.DirtyBitmap;
import io.tapdisk4j.block.ForwardingBlockDevice;
import io.tapdisk4j.block.local.MemoryDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static io.tapdisk4j.nbd.NbdProtocol.*;
import static io.tapdisk4j.nbd.server.NbdServerPipelineTest.*;
import static org.junit.jupiter.api.Assertions.*;

/** LIST/SET_META_CONTEXT with several contexts, and BLOCK_STATUS answered per context id. */
@Timeout(30)
class NbdMetaContextTest {

    private static final int K64 = 64 * 1024;

    /** A memory device with a dirty bitmap "cbt": blocks 1 and 2 changed. */
    static BlockDevice tracked() {
        BlockDevice m = new MemoryDevice("meta", 16L * K64);
        return new ForwardingBlockDevice(m) {
            @Override
            public List<DirtyBitmap> dirtyBitmaps() {
                return List.of(new DirtyBitmap() {
                    public String name() {
                        return "cbt";
                    }

                    public int granularity() {
                        return K64;
                    }

                    public List<BlockStatus> status(long offset, long length) {
                        List<BlockStatus> out = new ArrayList<>();
                        out.add(new BlockStatus(0, K64, 0));
                        out.add(new BlockStatus(K64, 2L * K64, 1));
                        out.add(new BlockStatus(3L * K64, 13L * K64, 0));
                        return out;
                    }
                });
            }
        };
    }

    static ByteBuf metaData(String export, String... queries) {
        byte[] n = export.getBytes(StandardCharsets.UTF_8);
        ByteBuf b = Unpooled.buffer().writeInt(n.length).writeBytes(n).writeInt(queries.length);
        for (String q : queries) {
            byte[] qb = q.getBytes(StandardCharsets.UTF_8);
            b.writeInt(qb.length).writeBytes(qb);
        }
        return b;
    }

    /** The (id, name) pairs of the REP_META_CONTEXT replies up to the ACK. */
    static List<String> contexts(ByteBuf o, int opt) {
        List<String> out = new ArrayList<>();
        while (true) {
            assertEquals(OPTION_REPLY_MAGIC, o.readLong());
            assertEquals(opt, o.readInt());
            int type = o.readInt();
            int len = o.readInt();
            if (type == REP_ACK) {
                assertEquals(0, len);
                return out;
            }
            assertEquals(REP_META_CONTEXT, type, "reply type");
            int id = o.readInt();
            out.add(id + " " + o.readCharSequence(len - 4, StandardCharsets.UTF_8));
        }
    }

    private static EmbeddedChannel structured(BlockDevice d) {
        EmbeddedChannel ch = negotiating(exports(d, true), null);
        send(ch, option(OPT_STRUCTURED_REPLY, Unpooled.buffer()));
        ByteBuf o = out(ch);
        assertEquals(REP_ACK, replyType(o, OPT_STRUCTURED_REPLY));
        o.release();
        return ch;
    }

    @Test
    void listOffersEveryContextAndTakesNamespacesAsWildcards() {
        EmbeddedChannel ch = structured(tracked());
        send(ch, option(OPT_LIST_META_CONTEXT, metaData("d")));
        send(ch, option(OPT_LIST_META_CONTEXT, metaData("d", "qemu:")));
        send(ch, option(OPT_LIST_META_CONTEXT, metaData("d", "qemu:dirty-bitmap:", "base:")));
        send(ch, option(OPT_LIST_META_CONTEXT, metaData("d", "nope:x")));
        ByteBuf o = out(ch);
        assertEquals(List.of("0 base:allocation", "0 qemu:allocation-depth", "0 qemu:dirty-bitmap:cbt"),
                contexts(o, OPT_LIST_META_CONTEXT));
        assertEquals(List.of("0 qemu:allocation-depth", "0 qemu:dirty-bitmap:cbt"), contexts(o, OPT_LIST_META_CONTEXT));
        assertEquals(List.of("0 qemu:dirty-bitmap:cbt", "0 base:allocation"), contexts(o, OPT_LIST_META_CONTEXT));
        assertEquals(List.of(), contexts(o, OPT_LIST_META_CONTEXT));
        o.release();
        ch.finishAndReleaseAll();
    }

    @Test
    void anUntrackedDeviceOffersNoDirtyBitmap() {
        EmbeddedChannel ch = structured(new MemoryDevice("plain", 1 << 20));
        send(ch, option(OPT_SET_META_CONTEXT, metaData("d", "qemu:dirty-bitmap:cbt", "base:allocation")));
        ByteBuf o = out(ch);
        assertEquals(List.of("1 base:allocation"), contexts(o, OPT_SET_META_CONTEXT));
        o.release();
        ch.finishAndReleaseAll();
    }

    @Test
    void blockStatusAnswersEverySelectedContextByItsId() {
        EmbeddedChannel ch = structured(tracked());
        send(ch, option(OPT_SET_META_CONTEXT, metaData("d", "qemu:dirty-bitmap:cbt", "base:allocation", "qemu:allocation-depth")));
        ByteBuf o = out(ch);
        assertEquals(List.of("1 qemu:dirty-bitmap:cbt", "2 base:allocation", "3 qemu:allocation-depth"),
                contexts(o, OPT_SET_META_CONTEXT));
        o.release();
        send(ch, option(OPT_GO, goData("d")));
        ByteBuf g = out(ch);
        int t;
        while ((t = replyType(g, OPT_GO)) == REP_INFO) {
            // info
        }
        assertEquals(REP_ACK, t);
        g.release();

        send(ch, request(0, CMD_BLOCK_STATUS, 77, 0, 4 * K64));
        ByteBuf r = out(ch);
        List<Integer> ids = new ArrayList<>();
        List<List<Long>> descs = new ArrayList<>();
        boolean done = false;
        while (!done) {
            assertEquals(STRUCTURED_REPLY_MAGIC, r.readInt());
            int flags = r.readUnsignedShort();
            assertEquals(REPLY_TYPE_BLOCK_STATUS, r.readUnsignedShort());
            assertEquals(77, r.readLong());
            int len = r.readInt();
            ids.add(r.readInt());
            List<Long> d = new ArrayList<>();
            for (int i = 0; i < (len - 4) / 8; i++) {
                d.add(r.readUnsignedInt());
                d.add(r.readUnsignedInt());
            }
            descs.add(d);
            done = (flags & REPLY_FLAG_DONE) != 0;
        }
        assertEquals(List.of(1, 2, 3), ids, "one chunk per context, DONE on the last");
        assertEquals(List.of((long) K64, 0L, 2L * K64, 1L, (long) K64, 0L), descs.get(0), "dirty bitmap clipped to the request");
        assertEquals(0, r.readableBytes());
        r.release();
        ch.finishAndReleaseAll();
    }

    @Test
    void truncatedAndHostileMetaContextRequestsAreRefused() {
        EmbeddedChannel ch = structured(tracked());
        send(ch, option(OPT_SET_META_CONTEXT, Unpooled.buffer().writeInt(1).writeByte('d')));            // no count
        send(ch, option(OPT_SET_META_CONTEXT, metaData("d", "base:allocation").capacity(20)));             // cut query
        send(ch, option(OPT_LIST_META_CONTEXT, Unpooled.buffer().writeInt(1).writeByte('d').writeInt(1).writeInt(-1))); // 4 GiB query
        send(ch, option(OPT_LIST_META_CONTEXT, Unpooled.buffer().writeInt(1).writeByte('d').writeInt(1_000_000))); // count beyond data
        send(ch, option(OPT_SET_META_CONTEXT, metaData("zz", "base:allocation")));
        ByteBuf o = out(ch);
        assertEquals(REP_ERR_INVALID, replyType(o, OPT_SET_META_CONTEXT));
        assertEquals(REP_ERR_INVALID, replyType(o, OPT_SET_META_CONTEXT));
        assertEquals(REP_ERR_INVALID, replyType(o, OPT_LIST_META_CONTEXT));
        assertEquals(REP_ERR_INVALID, replyType(o, OPT_LIST_META_CONTEXT));
        assertEquals(REP_ERR_UNKNOWN, replyType(o, OPT_SET_META_CONTEXT));
        o.release();
        assertTrue(ch.isActive(), "bad options are answered, not fatal");
        ch.finishAndReleaseAll();
    }
}
