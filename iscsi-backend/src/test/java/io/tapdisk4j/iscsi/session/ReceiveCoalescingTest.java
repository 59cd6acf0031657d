package io.tapdisk4j.iscsi.session;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.tapdisk4j.block.EventLoops;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Receive coalescing on a real loopback TCP connection (the kernel applies SO_RCVLOWAT), and its decision
 * on a clock the test moves.
 */
class ReceiveCoalescingTest {

    private EventLoopGroup group;
    private Channel server;
    private final CompletableFuture<Channel> accepted = new CompletableFuture<>();

    @BeforeEach
    void connect() throws Exception {
        assertTrue(EventLoops.epoll(), "these tests need Netty's epoll transport (Linux)");
        group = EventLoops.newGroup("coalescing-test", 2);
        server = new ServerBootstrap().group(group).channel(EventLoops.serverSocketChannel())
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accepted.complete(ch);
                    }
                }).bind("127.0.0.1", 0).sync().channel();
    }

    @AfterEach
    void close() throws Exception {
        server.close().sync();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    /** A client that records, on its loop, how many fallbacks had run when its first bytes arrived. */
    private static final class Recorder extends ChannelInboundHandlerAdapter {
        volatile ReceiveCoalescing coalescing;
        final CompletableFuture<Integer> fallbacksAtFirstRead = new CompletableFuture<>();
        final AtomicLong bytes = new AtomicLong();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            bytes.addAndGet(b.readableBytes());
            b.release();
            fallbacksAtFirstRead.complete(coalescing.fallbacks());
        }
    }

    private Channel client(Recorder recorder) throws Exception {
        return new Bootstrap().group(group).channel(EventLoops.socketChannel()).handler(recorder)
                .connect((InetSocketAddress) server.localAddress()).sync().channel();
    }

    /** Coalescing on {@code ch} (a 50 ms fallback) told to expect {@code wanted} bytes; the kernel must hold that mark. */
    private static ReceiveCoalescing expecting(Channel ch, Recorder recorder, int certain, int wanted) throws Exception {
        ReceiveCoalescing c = new ReceiveCoalescing(ch, TimeUnit.MILLISECONDS.toNanos(50), System::nanoTime);
        recorder.coalescing = c;
        onLoop(ch, () -> {
            c.expect(certain, wanted);
            return null;
        });
        assertEquals(wanted, onLoop(ch, () -> ch.config().getOption(ReceiveCoalescing.SO_RCVLOWAT)),
                "the kernel holds the mark");
        return c;
    }

    private static <T> T onLoop(Channel ch, java.util.concurrent.Callable<T> work) throws Exception {
        return ch.eventLoop().submit(work).get(10, TimeUnit.SECONDS);
    }

    @Test
    void anUnmetMarkIsDroppedByTheFallbackAndTheBytesArrive() throws Exception {
        Recorder recorder = new Recorder();
        Channel ch = client(recorder);
        ReceiveCoalescing c = expecting(ch, recorder, 0, 10000);
        assertTrue(onLoop(ch, c::fallbackPending), "a mark past what is certain has its fallback");

        // Less than the mark, and nothing more: only the fallback can wake the client for it.
        accepted.get(10, TimeUnit.SECONDS).writeAndFlush(Unpooled.wrappedBuffer(new byte[6000]));
        assertEquals(1, recorder.fallbacksAtFirstRead.get(10, TimeUnit.SECONDS),
                "the bytes came in only after the fallback dropped the mark");
        assertEquals(1, onLoop(ch, c::mark));
        ch.close().sync();
    }

    @Test
    void theRestOfAPduInProgressNeedsNoFallback() throws Exception {
        Recorder recorder = new Recorder();
        Channel ch = client(recorder);
        ReceiveCoalescing c = expecting(ch, recorder, 8000, 8000);
        assertFalse(onLoop(ch, c::fallbackPending), "certain bytes are waited for without a timer");
        Channel peer = accepted.get(10, TimeUnit.SECONDS);
        peer.writeAndFlush(Unpooled.wrappedBuffer(new byte[8000]));
        assertEquals(0, recorder.fallbacksAtFirstRead.get(10, TimeUnit.SECONDS));
        ch.close().sync();
    }

    @Test
    void coalescesOnlyWhileManyTasksAreInFlightAndPdusComeFast() {
        long[] now = {0};
        EmbeddedChannel ch = new EmbeddedChannel();
        ReceiveCoalescing c = new ReceiveCoalescing(ch, ReceiveCoalescing.FALLBACK_NANOS, () -> now[0]);
        // Batches of 4 PDUs every 200 us: 50 us apart.
        for (int batch = 0; batch < 3; batch++) {
            now[0] += 200_000;
            pdus(c, 4);
            assertTrue(c.worthCoalescing(ReceiveCoalescing.MIN_IN_FLIGHT), "fast stream, batch " + batch);
        }
        pdus(c, 4);
        assertFalse(c.worthCoalescing(ReceiveCoalescing.MIN_IN_FLIGHT - 1), "too few in flight");

        // A pause of a second, then PDUs 1 ms apart: no coalescing.
        now[0] += 1_000_000_000L;
        pdus(c, 1);
        assertFalse(c.worthCoalescing(32), "after an idle second");
        for (int batch = 0; batch < 5; batch++) {
            now[0] += 1_000_000;
            pdus(c, 1);
            assertFalse(c.worthCoalescing(32), "slow stream, batch " + batch);
        }
        // Fast again: the average follows within a few batches.
        int batches = 0;
        do {
            now[0] += 100_000;
            pdus(c, 2);
            batches++;
        } while (!c.worthCoalescing(32) && batches < 100);
        assertTrue(batches <= 10, "took " + batches + " batches to follow a fast stream again");
    }

    @Test
    void aChannelWithoutTheOptionNeverWaits() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ReceiveCoalescing c = new ReceiveCoalescing(ch);
        c.expect(0, 100000);
        assertEquals(1, c.mark());
        assertFalse(c.fallbackPending());
        pdus(c, 8);
        assertFalse(c.worthCoalescing(32), "unsupported: never again");
        ch.finishAndReleaseAll();
    }

    private static void pdus(ReceiveCoalescing c, int n) {
        for (int i = 0; i < n; i++) {
            c.onPdu();
        }
    }
}
