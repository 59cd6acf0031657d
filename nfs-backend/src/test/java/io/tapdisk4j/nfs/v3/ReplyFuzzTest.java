package io.tapdisk4j.nfs.v3;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.ReferenceCounted;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.nfs.mount.MountClient;
import io.tapdisk4j.nfs.rpc.RpcReply;
import io.tapdisk4j.nfs.rpc.RpcReplyDecoder;
import io.tapdisk4j.nfs.xdr.XdrDecoder;
import io.tapdisk4j.nfs.xdr.XdrEncoder;
import io.tapdisk4j.nfs.xdr.XdrException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every reply decoder against well-formed replies, then (seeded, so failures reproduce) truncated,
 * bit-flipped and length-inflated versions of them: the only acceptable failures are XdrException (malformed)
 * and the NFS/MOUNT status exceptions; nothing else may escape and no buffer may leak.
 */
class ReplyFuzzTest {

    interface Parser {
        Object parse(XdrDecoder x) throws Exception;
    }

    static void fattr(ByteBuf b, long size) {
        b.writeInt(Fattr3.NF3REG);
        b.writeInt(0644);
        b.writeInt(1);
        b.writeInt(0);
        b.writeInt(0);
        b.writeLong(size);
        b.writeLong(size);
        b.writeLong(0); // rdev
        b.writeLong(1); // fsid
        b.writeLong(99); // fileid
        for (int i = 0; i < 3; i++) {
            b.writeInt(1_700_000_000);
            b.writeInt(5);
        }
    }

    static void postOp(ByteBuf b) {
        b.writeInt(1);
        fattr(b, 4096);
    }

    static void wcc(ByteBuf b) {
        b.writeInt(1);
        b.writeLong(4096);
        b.writeLong(0);
        b.writeLong(0);
        postOp(b);
    }

    static byte[] build(Consumer<ByteBuf> c) {
        ByteBuf b = Unpooled.buffer();
        c.accept(b);
        byte[] out = new byte[b.readableBytes()];
        b.readBytes(out);
        return out;
    }

    static Map<String, byte[]> samples() {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("getattr", build(b -> { b.writeInt(0); fattr(b, 12345); }));
        m.put("read", build(b -> { b.writeInt(0); postOp(b); b.writeInt(5); b.writeInt(1);
            XdrEncoder.writeOpaque(b, new byte[]{1, 2, 3, 4, 5}); }));
        m.put("write", build(b -> { b.writeInt(0); wcc(b); b.writeInt(4096); b.writeInt(0); b.writeLong(0xfeedL); }));
        m.put("lookup", build(b -> { b.writeInt(0); XdrEncoder.writeOpaque(b, new byte[32]); postOp(b); postOp(b); }));
        m.put("create", build(b -> { b.writeInt(0); b.writeInt(1); XdrEncoder.writeOpaque(b, new byte[28]); postOp(b); wcc(b); }));
        m.put("commit", build(b -> { b.writeInt(0); wcc(b); b.writeLong(0xabcdL); }));
        m.put("setattr", build(b -> { b.writeInt(0); wcc(b); }));
        m.put("remove", build(b -> { b.writeInt(0); wcc(b); }));
        m.put("rename", build(b -> { b.writeInt(0); wcc(b); wcc(b); }));
        m.put("access", build(b -> { b.writeInt(0); postOp(b); b.writeInt(0x3f); }));
        m.put("fsinfo", build(b -> { b.writeInt(0); postOp(b); for (int i = 0; i < 7; i++) { b.writeInt(1 << 20); }
            b.writeLong(Long.MAX_VALUE); b.writeLong(1); b.writeInt(0x1b); }));
        m.put("fsstat", build(b -> { b.writeInt(0); postOp(b); for (int i = 0; i < 6; i++) { b.writeLong(1000 + i); }
            b.writeInt(0); }));
        m.put("readdirplus", build(b -> { b.writeInt(0); b.writeInt(0); b.writeLong(7);
            for (String n : new String[]{".", "..", "a.vhd"}) {
                b.writeInt(1); b.writeLong(n.length()); XdrEncoder.writeString(b, n); b.writeLong(n.hashCode());
                postOp(b); b.writeInt(1); XdrEncoder.writeOpaque(b, new byte[16]);
            }
            b.writeInt(0); b.writeInt(1); }));
        m.put("exports", build(b -> { b.writeInt(1); XdrEncoder.writeString(b, "/srv/a"); b.writeInt(1);
            XdrEncoder.writeString(b, "*"); b.writeInt(0); b.writeInt(1); XdrEncoder.writeString(b, "/srv/b");
            b.writeInt(0); b.writeInt(0); }));
        m.put("mnt", build(b -> { b.writeInt(0); XdrEncoder.writeOpaque(b, new byte[20]); b.writeInt(1); b.writeInt(1); }));
        m.put("rpc", build(b -> { b.writeInt(77); b.writeInt(1); b.writeInt(0); b.writeInt(0); b.writeInt(0); b.writeInt(0);
            b.writeInt(42); }));
        return m;
    }

    static Parser parser(String name) {
        return switch (name) {
            case "getattr" -> Nfs3Replies::getattr;
            case "read" -> x -> Nfs3Replies.read(x, 1 << 20);
            case "write" -> Nfs3Replies::write;
            case "lookup" -> x -> Nfs3Replies.lookup(x, "f");
            case "create" -> x -> Nfs3Replies.create(x, "f");
            case "commit" -> Nfs3Replies::commit;
            case "setattr" -> Nfs3Replies::setattr;
            case "remove" -> x -> Nfs3Replies.remove(x, "f");
            case "rename" -> x -> Nfs3Replies.rename(x, "f", "g");
            case "access" -> Nfs3Replies::access;
            case "fsinfo" -> Nfs3Replies::fsinfo;
            case "fsstat" -> Nfs3Replies::fsstat;
            case "readdirplus" -> x -> Nfs3Replies.readdirplus(x, new ArrayList<>(), 1000);
            case "exports" -> MountClient::parseExports;
            case "mnt" -> x -> MountClient.parseMnt(x, "/srv");
            case "rpc" -> x -> RpcReplyDecoder.decode(x.buffer());
            default -> throw new IllegalArgumentException(name);
        };
    }

    /** Parses; returns null for an accepted failure, else the result (released if reference counted). */
    static Object run(Parser p, byte[] input) {
        ByteBuf buf = Unpooled.directBuffer(input.length).writeBytes(input);
        try {
            Object r = p.parse(new XdrDecoder(buf));
            if (r instanceof ReferenceCounted rc) {
                rc.release();
            } else if (r instanceof RpcReply reply) {
                reply.release();
            }
            return r == null ? "void" : r;
        } catch (XdrException | BlockDeviceException e) {
            return null;
        } catch (Exception e) {
            throw new AssertionError("unexpected " + e + " for input of " + input.length + " bytes", e);
        } finally {
            buf.release();
        }
    }

    @Test
    void wellFormedRepliesDecode() throws Exception {
        for (Map.Entry<String, byte[]> e : samples().entrySet()) {
            assertNotNull(run(parser(e.getKey()), e.getValue()), e.getKey());
        }
        ByteBuf b = Unpooled.wrappedBuffer(samples().get("read"));
        ReadResult r = Nfs3Replies.read(new XdrDecoder(b), 1 << 20);
        assertArrayEquals(new byte[]{1, 2, 3, 4, 5}, io.netty.buffer.ByteBufUtil.getBytes(r.data()));
        r.release();
        b.release();
        List<DirEntry> entries = new ArrayList<>();
        ByteBuf d = Unpooled.wrappedBuffer(samples().get("readdirplus"));
        assertEquals(true, Nfs3Replies.readdirplus(new XdrDecoder(d), entries, 100).eof());
        assertEquals(List.of(".", "..", "a.vhd"), entries.stream().map(DirEntry::name).toList());
        d.release();
        ByteBuf x = Unpooled.wrappedBuffer(samples().get("exports"));
        assertEquals(List.of("/srv/a", "/srv/b"), MountClient.parseExports(new XdrDecoder(x)));
        x.release();
    }

    @Test
    void everyTruncationFailsCleanly() {
        for (Map.Entry<String, byte[]> e : samples().entrySet()) {
            byte[] full = e.getValue();
            for (int len = 0; len < full.length; len++) {
                byte[] cut = java.util.Arrays.copyOf(full, len);
                Object r = run(parser(e.getKey()), cut);
                if (r != null && !e.getKey().equals("rpc")) {
                    // Only the RPC header may legitimately end early (empty results); others must notice.
                    fail(e.getKey() + " accepted a reply truncated to " + len + " of " + full.length + " bytes");
                }
            }
        }
    }

    @Test
    void randomCorruptionNeverEscapesAsAnythingElse() {
        Random rnd = new Random(20261125);
        for (Map.Entry<String, byte[]> e : samples().entrySet()) {
            Parser p = parser(e.getKey());
            for (int i = 0; i < 600; i++) {
                byte[] b = e.getValue().clone();
                int flips = 1 + rnd.nextInt(4);
                for (int f = 0; f < flips; f++) {
                    int at = rnd.nextInt(b.length);
                    switch (rnd.nextInt(3)) {
                        case 0 -> b[at] ^= (byte) (1 << rnd.nextInt(8));
                        case 1 -> b[at] = (byte) 0xff; // huge lengths and counts
                        default -> b[at] = (byte) rnd.nextInt(256);
                    }
                }
                run(p, b);
            }
        }
    }

    @Test
    void hostileLengthsAreRefusedWithoutAllocating() {
        byte[] hugeOpaque = build(b -> { b.writeInt(0); b.writeInt(0); b.writeInt(5); b.writeInt(1); b.writeInt(0x7ffffff0); });
        assertThrows(XdrException.class, () -> Nfs3Replies.read(new XdrDecoder(Unpooled.wrappedBuffer(hugeOpaque)), 1 << 20));
        byte[] fhTooLong = build(b -> { b.writeInt(0); b.writeInt(65); b.writeZero(68); });
        assertThrows(XdrException.class, () -> Nfs3Replies.lookup(new XdrDecoder(Unpooled.wrappedBuffer(fhTooLong)), "x"));
        byte[] notBool = build(b -> { b.writeInt(0); b.writeInt(2); });
        assertThrows(XdrException.class, () -> Nfs3Replies.getattr(new XdrDecoder(Unpooled.wrappedBuffer(
                build(c -> { c.writeInt(0); c.writeInt(99); })))));
        assertThrows(XdrException.class, () -> Nfs3Replies.setattr(new XdrDecoder(Unpooled.wrappedBuffer(notBool))));
        byte[] endless = build(b -> { for (int i = 0; i < 2000; i++) { b.writeInt(1); XdrEncoder.writeString(b, "x"); b.writeInt(0); } });
        assertThrows(XdrException.class, () -> MountClient.parseExports(new XdrDecoder(Unpooled.wrappedBuffer(endless))));
    }

    @Test
    void errorStatusesMapToBlockErrors() {
        int[][] cases = {{Nfs3Status.NOSPC, 28}, {Nfs3Status.DQUOT, 122}, {Nfs3Status.ROFS, 30}, {Nfs3Status.STALE, 116},
                {Nfs3Status.ACCES, 13}, {Nfs3Status.IO, 5}};
        for (int[] c : cases) {
            byte[] reply = build(b -> { b.writeInt(c[0]); b.writeInt(0); b.writeInt(0); });
            Nfs3Exception e = assertThrows(Nfs3Exception.class, () -> Nfs3Replies.write(new XdrDecoder(Unpooled.wrappedBuffer(reply))));
            assertEquals(c[1], e.error().errno(), Nfs3Status.name(c[0]));
            assertEquals(true, e.getMessage().contains(Nfs3Status.name(c[0])));
        }
    }
}
