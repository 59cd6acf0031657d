package io.tapdisk4j.testsupport.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The proxy's framings cut streams exactly at message boundaries, however the bytes arrive. */
class FramingTest {

    /** Feeds {@code stream} in pieces of {@code step} bytes and returns the frames (kind:length:tag). */
    private static List<String> decode(EmbeddedChannel ch, ByteBuf stream, int step) {
        List<String> out = new ArrayList<>();
        while (stream.isReadable()) {
            ch.writeInbound(stream.readRetainedSlice(Math.min(step, stream.readableBytes())));
            Frame f;
            while ((f = ch.readInbound()) != null) {
                out.add(f.kind() + ":" + f.length() + ":" + f.tag());
                f.release();
            }
        }
        stream.release();
        return out;
    }

    private static EmbeddedChannel channel(Framing.ConnectionFraming cf, Direction d) {
        return new EmbeddedChannel(cf.decoder(d));
    }

    private static ByteBuf rpc(long xid, int type, int bodyLength, boolean last) {
        ByteBuf b = Unpooled.buffer();
        b.writeInt((last ? 0x80000000 : 0) | (8 + bodyLength));
        b.writeInt((int) xid).writeInt(type).writeZero(bodyLength);
        return b;
    }

    @Test
    void rpcRecordsAreCutPerFragmentWhateverTheReadSizes() {
        for (int step : new int[]{1, 3, 7, 1000}) {
            ByteBuf s = Unpooled.buffer();
            s.writeBytes(rpc(0x1234, 0, 100, true));
            s.writeBytes(rpc(0x99, 1, 5, false));
            s.writeInt(0x80000000 | 6).writeZero(6); // continuation fragment: no xid of its own
            s.writeBytes(rpc(0x77, 0, 0, true));
            EmbeddedChannel ch = channel(Framing.rpcRecords().newConnection(), Direction.TO_SERVER);
            assertEquals(List.of("rpc-call:112:4660", "rpc-reply:17:153", "rpc-fragment:10:-1", "rpc-call:12:119"),
                    decode(ch, s, step), "step " + step);
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void truncatedRpcRecordWaitsForTheRest() {
        EmbeddedChannel ch = channel(Framing.rpcRecords().newConnection(), Direction.TO_CLIENT);
        ByteBuf r = rpc(5, 1, 40, true);
        ch.writeInbound(r.readRetainedSlice(30));
        assertNull(ch.readInbound());
        ch.writeInbound(r);
        Frame f = ch.readInbound();
        assertEquals(52, f.length());
        f.release();
        ch.finishAndReleaseAll();
    }

    private static ByteBuf iscsi(int opcode, long itt, int ahsWords, int dataLength) {
        ByteBuf b = Unpooled.buffer();
        b.writeByte(opcode).writeZero(3).writeByte(ahsWords).writeMedium(dataLength).writeZero(8)
                .writeInt((int) itt).writeZero(28);
        b.writeZero(ahsWords * 4 + ((dataLength + 3) & ~3));
        return b;
    }

    @Test
    void iscsiPdusIncludeAhsAndPaddedData() {
        for (int step : new int[]{1, 47, 49, 4096}) {
            ByteBuf s = Unpooled.buffer();
            s.writeBytes(iscsi(0x01, 7, 0, 0));        // SCSI command, no data
            s.writeBytes(iscsi(0x05, 8, 1, 5));        // Data-Out, 4 bytes AHS, 5 bytes data padded to 8
            s.writeBytes(iscsi(0x43, 0xffffffffL, 0, 512)); // login
            EmbeddedChannel ch = channel(Framing.iscsiPdus().newConnection(), Direction.TO_SERVER);
            assertEquals(List.of("iscsi-0x01:48:7", "iscsi-0x05:60:8", "iscsi-0x03:560:4294967295"),
                    decode(ch, s, step), "step " + step);
            ch.finishAndReleaseAll();
        }
    }

    private static void option(ByteBuf b, int option, int length) {
        b.writeLong(NbdFraming.IHAVEOPT).writeInt(option).writeInt(length).writeZero(length);
    }

    private static void request(ByteBuf b, int type, long cookie, int length) {
        b.writeInt(NbdFraming.REQUEST_MAGIC).writeShort(0).writeShort(type).writeLong(cookie).writeLong(0)
                .writeInt(length);
        if (type == NbdFraming.CMD_WRITE) {
            b.writeZero(length);
        }
    }

    @Test
    void nbdHandshakeRequestsAndRepliesAreFramedBothWays() {
        for (int step : new int[]{1, 5, 33, 65536}) {
            Framing.ConnectionFraming cf = Framing.nbd().newConnection();
            EmbeddedChannel toServer = channel(cf, Direction.TO_SERVER);
            EmbeddedChannel toClient = channel(cf, Direction.TO_CLIENT);

            ByteBuf greeting = Unpooled.buffer().writeLong(NbdFraming.NBDMAGIC).writeLong(NbdFraming.IHAVEOPT).writeShort(3);
            assertEquals(List.of("greeting:18:-1"), decode(toClient, greeting, step));

            ByteBuf c = Unpooled.buffer().writeInt(3);
            option(c, 8, 0);   // STRUCTURED_REPLY
            option(c, 7, 12);  // GO
            request(c, NbdFraming.CMD_WRITE, 1, 4096);
            request(c, 0, 2, 512);
            request(c, 0, 3, 100);
            request(c, 3, 4, 0);
            assertEquals(List.of("client-flags:4:-1", "NBD_OPT_8:16:8", "NBD_OPT_7:28:7", "NBD_CMD_WRITE:4124:1",
                    "NBD_CMD_READ:28:2", "NBD_CMD_READ:28:3", "NBD_CMD_FLUSH:28:4"), decode(toServer, c, step));

            ByteBuf s = Unpooled.buffer();
            s.writeLong(NbdFraming.OPTION_REPLY_MAGIC).writeInt(7).writeInt(1).writeInt(0);
            s.writeInt(NbdFraming.SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(1);                  // write done
            s.writeInt(NbdFraming.SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(2).writeZero(512);   // read data
            s.writeInt(NbdFraming.SIMPLE_REPLY_MAGIC).writeInt(5).writeLong(3);                  // read failed: no data
            s.writeInt(NbdFraming.STRUCTURED_REPLY_MAGIC).writeShort(1).writeShort(0).writeLong(4).writeInt(0);
            assertEquals(List.of("NBD_REP_1:20:7", "simple-reply:16:1", "simple-reply:528:2", "simple-reply:16:3",
                    "structured-reply:20:4"), decode(toClient, s, step));
            toServer.finishAndReleaseAll();
            toClient.finishAndReleaseAll();
        }
    }

    @Test
    void nbdExportNameReplyLengthFollowsNoZeroes() {
        for (int flags : new int[]{1, 3}) {
            Framing.ConnectionFraming cf = Framing.nbd().newConnection();
            EmbeddedChannel toServer = channel(cf, Direction.TO_SERVER);
            EmbeddedChannel toClient = channel(cf, Direction.TO_CLIENT);
            ByteBuf c = Unpooled.buffer().writeInt(flags);
            option(c, 1, 4);
            decode(toServer, c, 100);
            int infoLength = (flags & 2) != 0 ? 10 : 134;
            ByteBuf s = Unpooled.buffer().writeLong(NbdFraming.NBDMAGIC).writeLong(NbdFraming.IHAVEOPT).writeShort(3)
                    .writeLong(1 << 20).writeShort(1).writeZero(infoLength - 10);
            s.writeInt(NbdFraming.SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(9);
            assertEquals(List.of("greeting:18:-1", "export-info:" + infoLength + ":-1", "simple-reply:16:9"),
                    decode(toClient, s, 7));
            toServer.finishAndReleaseAll();
            toClient.finishAndReleaseAll();
        }
    }

    @Test
    void nbdGarbageAndAbsurdLengthsPassThroughRawInsteadOfStalling() {
        Framing.ConnectionFraming cf = Framing.nbd().newConnection();
        EmbeddedChannel toServer = channel(cf, Direction.TO_SERVER);
        ByteBuf c = Unpooled.buffer().writeInt(1);
        c.writeLong(NbdFraming.IHAVEOPT).writeInt(7).writeInt(-1); // 4 GiB option: not worth waiting for
        c.writeZero(10);
        List<String> frames = decode(toServer, c, 1000);
        assertEquals("client-flags:4:-1", frames.get(0));
        assertEquals("raw:26:-1", frames.get(1));
        toServer.finishAndReleaseAll();

        EmbeddedChannel toClient = channel(Framing.nbd().newConnection(), Direction.TO_CLIENT);
        ByteBuf garbage = Unpooled.buffer().writeZero(40);
        assertEquals(List.of("raw:40:-1"), decode(toClient, garbage, 1000));
        toClient.finishAndReleaseAll();
    }

    @Test
    void nbdReplyToUnknownCookieCarriesNoData() {
        Framing.ConnectionFraming cf = Framing.nbd().newConnection();
        EmbeddedChannel toClient = channel(cf, Direction.TO_CLIENT);
        ByteBuf s = Unpooled.buffer().writeLong(NbdFraming.NBDMAGIC).writeLong(NbdFraming.IHAVEOPT).writeShort(3);
        s.writeInt(NbdFraming.SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(42);
        assertEquals(List.of("greeting:18:-1", "simple-reply:16:42"), decode(toClient, s, 3));
        toClient.finishAndReleaseAll();
    }

    @Test
    void chunksPassWhateverArrived() {
        EmbeddedChannel ch = channel(Framing.chunks().newConnection(), Direction.TO_SERVER);
        assertEquals(List.of("chunk:10:-1", "chunk:10:-1", "chunk:5:-1"), decode(ch, Unpooled.buffer().writeZero(25), 10));
        ch.finishAndReleaseAll();
    }
}
