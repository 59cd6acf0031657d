package io.tapdisk4j.nfs.rpc;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The RPC state machine over EmbeddedChannels, with a fake clock driving timeouts. */
class RpcClientTest {

    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final List<EmbeddedChannel> channels = new ArrayList<>();
    private RpcClient client;

    private RpcClient client(RpcClientConfig config) {
        client = new RpcClient("test", init -> {
            EmbeddedChannel ch = new EmbeddedChannel(init);
            channels.add(ch);
            return ch.newSucceededFuture();
        }, config.withClock(now::get), UnpooledByteBufAllocator.DEFAULT, null);
        return client;
    }

    private static RpcClientConfig config() {
        return RpcClientConfig.defaults().withTimeout(Duration.ofSeconds(1));
    }

    @AfterEach
    void close() {
        if (client != null) {
            client.close();
        }
        for (EmbeddedChannel ch : channels) {
            ch.finishAndReleaseAll();
        }
    }

    private EmbeddedChannel channel() {
        return channels.getLast();
    }

    /** The calls a channel sent, each as the bytes after the record mark. */
    private static List<byte[]> sent(EmbeddedChannel ch) {
        List<byte[]> out = new ArrayList<>();
        ByteBuf header;
        while ((header = ch.readOutbound()) != null) {
            int mark = header.readInt();
            header.release();
            ByteBuf body = ch.readOutbound();
            assertEquals(0x80000000 | body.readableBytes(), mark);
            out.add(ByteBufUtil.getBytes(body));
            body.release();
        }
        return out;
    }

    private static int xid(byte[] call) {
        return Unpooled.wrappedBuffer(call).getInt(0);
    }

    static ByteBuf reply(int xid, int result) {
        ByteBuf b = Unpooled.buffer();
        b.writeInt(0x80000000 | 28);
        b.writeInt(xid);
        b.writeInt(1); // REPLY
        b.writeInt(0); // MSG_ACCEPTED
        b.writeInt(0);
        b.writeInt(0); // AUTH_NONE verifier
        b.writeInt(0); // SUCCESS
        b.writeInt(result);
        return b;
    }

    private CompletableFuture<Integer> call(int arg) {
        ByteBuf args = Unpooled.buffer().writeInt(arg);
        return client.call(100003, 3, 0, RpcAuth.sys(1000, 100), args, x -> x.readInt());
    }

    private static BlockDeviceException failure(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, f::get);
        return (BlockDeviceException) e.getCause();
    }

    @Test
    void manyCallsInFlightMatchedByXidInAnyOrder() throws Exception {
        client(config());
        List<CompletableFuture<Integer>> calls = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            calls.add(call(i));
        }
        List<byte[]> out = sent(channel());
        assertEquals(50, out.size());
        for (int i = 49; i >= 0; i--) {
            byte[] c = out.get(i);
            // header: xid, CALL, rpcvers 2, prog, vers, proc, then the AUTH_SYS credential
            ByteBuf b = Unpooled.wrappedBuffer(c);
            assertEquals(0, b.getInt(4));
            assertEquals(2, b.getInt(8));
            assertEquals(100003, b.getInt(12));
            assertEquals(RpcAuth.AUTH_SYS, b.getInt(24));
            channel().writeInbound(reply(xid(c), i * 10));
        }
        for (int i = 0; i < 50; i++) {
            assertEquals(i * 10, calls.get(i).get());
        }
        assertEquals(0, client.outstanding());
    }

    @Test
    void unknownXidIsDroppedAndTheCallStillWaits() throws Exception {
        client(config());
        CompletableFuture<Integer> f = call(1);
        int xid = xid(sent(channel()).getFirst());
        channel().writeInbound(reply(xid + 12345, 7));
        assertFalse(f.isDone());
        assertEquals(1, client.droppedReplies());
        channel().writeInbound(reply(xid, 8));
        assertEquals(8, f.get());
        // A late duplicate of an answered call is also just dropped.
        channel().writeInbound(reply(xid, 9));
        assertEquals(2, client.droppedReplies());
        assertTrue(channel().isActive());
    }

    @Test
    void timeoutRetransmitsTheSameBytesWithTheSameXid() throws Exception {
        client(config());
        CompletableFuture<Integer> f = call(42);
        byte[] first = sent(channel()).getFirst();
        now.addAndGet(Duration.ofMillis(500).toNanos());
        client.checkTimeouts();
        assertEquals(0, sent(channel()).size(), "not yet due");
        now.addAndGet(Duration.ofMillis(600).toNanos());
        client.checkTimeouts();
        List<byte[]> again = sent(channel());
        assertEquals(1, again.size());
        assertArrayEquals(first, again.getFirst());
        assertEquals(1, client.retransmissions());
        channel().writeInbound(reply(xid(first), 5));
        assertEquals(5, f.get());
    }

    @Test
    void silentConnectionIsReplacedAndCallsResentWithTheirXids() throws Exception {
        client(config());
        CompletableFuture<Integer> a = call(1);
        CompletableFuture<Integer> b = call(2);
        List<byte[]> original = sent(channel());
        EmbeddedChannel first = channel();
        for (int i = 0; i < 3; i++) {
            now.addAndGet(Duration.ofMillis(1100).toNanos());
            client.checkTimeouts();
        }
        assertFalse(first.isActive(), "after repeated timeouts the connection is dropped");
        assertEquals(2, channels.size());
        List<byte[]> resent = sent(channel());
        assertEquals(2, resent.size());
        assertArrayEquals(original.get(0), resent.get(0));
        assertArrayEquals(original.get(1), resent.get(1));
        channel().writeInbound(reply(xid(resent.get(1)), 22));
        channel().writeInbound(reply(xid(resent.get(0)), 11));
        assertEquals(11, a.get());
        assertEquals(22, b.get());
        assertEquals(2, client.connects());
    }

    @Test
    void brokenConnectionReconnectsAndResends() throws Exception {
        client(config());
        CompletableFuture<Integer> f = call(3);
        byte[] original = sent(channel()).getFirst();
        channel().close();
        assertEquals(2, channels.size());
        byte[] resent = sent(channel()).getFirst();
        assertArrayEquals(original, resent);
        channel().writeInbound(reply(xid(original), 33));
        assertEquals(33, f.get());
    }

    @Test
    void malformedRecordClosesTheConnectionAndTheCallIsRetried() throws Exception {
        client(config());
        CompletableFuture<Integer> f = call(4);
        int xid = xid(sent(channel()).getFirst());
        EmbeddedChannel first = channel();
        ByteBuf hostile = Unpooled.buffer();
        hostile.writeInt(0x80000000 | 8);
        hostile.writeInt(xid);
        hostile.writeInt(0); // a CALL where a reply belongs
        first.writeInbound(hostile);
        assertFalse(first.isActive());
        assertEquals(2, channels.size());
        assertEquals(1, sent(channel()).size());
        channel().writeInbound(reply(xid, 44));
        assertEquals(44, f.get());
    }

    @Test
    void truncatedResultsAreRetriedThenFailWithEio() throws Exception {
        client(config());
        ByteBuf args = Unpooled.buffer().writeInt(0);
        CompletableFuture<Long> f = client.call(100003, 3, 0, RpcAuth.none(), args, x -> x.readHyper());
        for (int round = 0; round <= config().maxMalformed(); round++) {
            List<byte[]> out = sent(channel());
            assertEquals(1, out.size(), "round " + round);
            channel().writeInbound(reply(xid(out.getFirst()), 1)); // 4 bytes where 8 are needed
        }
        assertEquals(BlockError.EIO, failure(f).error());
    }

    @Test
    void rejectedCallsFailClearly() {
        client(config());
        CompletableFuture<Integer> f = call(5);
        int xid = xid(sent(channel()).getFirst());
        ByteBuf denied = Unpooled.buffer();
        denied.writeInt(0x80000000 | 20);
        denied.writeInt(xid);
        denied.writeInt(1);
        denied.writeInt(1); // MSG_DENIED
        denied.writeInt(1); // AUTH_ERROR
        denied.writeInt(2); // AUTH_REJECTEDCRED
        channel().writeInbound(denied);
        BlockDeviceException e = failure(f);
        assertEquals(BlockError.EACCES, e.error());
        assertTrue(e.getMessage().contains("authentication"), e.getMessage());

        CompletableFuture<Integer> g = call(6);
        int xid2 = xid(sent(channel()).getFirst());
        ByteBuf mismatch = Unpooled.buffer();
        mismatch.writeInt(0x80000000 | 32);
        mismatch.writeInt(xid2);
        mismatch.writeInt(1);
        mismatch.writeInt(0);
        mismatch.writeInt(0);
        mismatch.writeInt(0);
        mismatch.writeInt(2); // PROG_MISMATCH
        mismatch.writeInt(2);
        mismatch.writeInt(4);
        channel().writeInbound(mismatch);
        assertTrue(failure(g).getMessage().contains("2..4"));
    }

    @Test
    void softMountFailsAfterTheDeadlineHardMountKeepsTrying() {
        client(config().withSoft(Duration.ofSeconds(3)));
        CompletableFuture<Integer> f = call(7);
        for (int i = 0; i < 3; i++) {
            now.addAndGet(Duration.ofMillis(1100).toNanos());
            client.checkTimeouts();
        }
        assertEquals(BlockError.ETIMEDOUT, failure(f).error());
        client.close();

        client(config().withHard());
        CompletableFuture<Integer> h = call(8);
        for (int i = 0; i < 20; i++) {
            now.addAndGet(Duration.ofMillis(1100).toNanos());
            client.checkTimeouts();
        }
        assertFalse(h.isDone());
        assertTrue(client.retransmissions() > 5);
    }

    @Test
    void closeFailsOutstandingCallsWithEshutdown() {
        client(config());
        CompletableFuture<Integer> f = call(9);
        client.close();
        assertEquals(BlockError.ESHUTDOWN, failure(f).error());
        assertEquals(BlockError.ESHUTDOWN, failure(call(10)).error());
    }

    @Test
    void xidsAreDistinct() {
        client(config());
        call(1);
        call(2);
        List<byte[]> out = sent(channel());
        assertNotEquals(xid(out.get(0)), xid(out.get(1)));
    }
}
