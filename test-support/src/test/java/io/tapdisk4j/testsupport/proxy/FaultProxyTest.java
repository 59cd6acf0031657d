package io.tapdisk4j.testsupport.proxy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.tapdisk4j.testsupport.proxy.ScriptedPolicy.kind;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The proxy live, in front of a loopback echo server, speaking RPC record marking. */
class FaultProxyTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private FaultProxy proxy(boolean echo, Framing framing, FaultPolicy policy, int rcvbuf) throws Exception {
        EchoServer server = new EchoServer(echo);
        closeables.add(server);
        FaultProxy p = FaultProxy.to(server.port()).framing(framing).policy(policy).receiveBufferSize(rcvbuf).start();
        closeables.add(p);
        return p;
    }

    private Socket connect(FaultProxy p) throws IOException {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), p.port());
        s.setSoTimeout((int) WAIT.toMillis());
        closeables.add(s);
        return s;
    }

    /** One RPC call record: mark, xid, type 0, 8 bytes of body. */
    private static void call(Socket s, int xid) throws IOException {
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        out.writeInt(0x80000000 | 16);
        out.writeInt(xid);
        out.writeInt(0);
        out.writeLong(xid * 31L);
        out.flush();
    }

    private static int readXid(Socket s) throws IOException {
        DataInputStream in = new DataInputStream(s.getInputStream());
        assertEquals(0x80000000 | 16, in.readInt());
        int xid = in.readInt();
        assertEquals(0, in.readInt());
        assertEquals(xid * 31L, in.readLong(), "body of xid " + xid);
        return xid;
    }

    @Test
    void forwardsUntouchedByDefault() throws Exception {
        FaultProxy p = proxy(true, Framing.rpcRecords(), FaultPolicy.FORWARD_ALL, 0);
        Socket s = connect(p);
        for (int i = 1; i <= 5; i++) {
            call(s, i);
        }
        for (int i = 1; i <= 5; i++) {
            assertEquals(i, readXid(s));
        }
        assertEquals(0, p.faultsInjected());
    }

    @Test
    void heldRequestIsOvertakenAndReleasedLater() throws Exception {
        ScriptedPolicy script = new ScriptedPolicy().once(kind(Direction.TO_SERVER, "rpc-call"), FaultAction.HOLD);
        FaultProxy p = proxy(true, Framing.rpcRecords(), script, 0);
        Socket s = connect(p);
        call(s, 1);
        HeldFrame held = p.awaitHeld(WAIT);
        assertEquals(1, held.tag());
        call(s, 2);
        assertEquals(2, readXid(s));
        assertTrue(held.release().get(10, TimeUnit.SECONDS));
        assertEquals(1, readXid(s));
        assertThrows(IllegalStateException.class, held::release,
                "a frame is released once");
        assertEquals(1, p.faultsInjected());
    }

    @Test
    void droppedReplyNeverArrives() throws Exception {
        ScriptedPolicy script = new ScriptedPolicy().once(kind(Direction.TO_CLIENT, "rpc-call"), FaultAction.DROP);
        FaultProxy p = proxy(true, Framing.rpcRecords(), script, 0);
        Socket s = connect(p);
        call(s, 1);
        call(s, 2);
        assertEquals(2, readXid(s));
    }

    @Test
    void duplicatedReplyArrivesTwice() throws Exception {
        ScriptedPolicy script = new ScriptedPolicy().once(kind(Direction.TO_CLIENT, "rpc-call"), FaultAction.DUPLICATE);
        FaultProxy p = proxy(true, Framing.rpcRecords(), script, 0);
        Socket s = connect(p);
        call(s, 1);
        call(s, 2);
        assertEquals(List.of(1, 1, 2), List.of(readXid(s), readXid(s), readXid(s)));
    }

    @Test
    void reorderedRequestGoesAfterTheNextOne() throws Exception {
        ScriptedPolicy script = new ScriptedPolicy().once(kind(Direction.TO_SERVER, "rpc-call"), FaultAction.REORDER);
        FaultProxy p = proxy(true, Framing.rpcRecords(), script, 0);
        Socket s = connect(p);
        call(s, 1);
        call(s, 2);
        assertEquals(List.of(2, 1), List.of(readXid(s), readXid(s)));
    }

    @Test
    void delayedRequestStillArrives() throws Exception {
        ScriptedPolicy script = new ScriptedPolicy().once(kind(Direction.TO_SERVER, "rpc-call"),
                FaultAction.delay(Duration.ofMillis(30)));
        FaultProxy p = proxy(true, Framing.rpcRecords(), script, 0);
        Socket s = connect(p);
        call(s, 1);
        assertEquals(1, readXid(s));
        assertEquals(1, p.faultsInjected());
    }

    @Test
    void replacedReplyIsWhatTheClientSees() throws Exception {
        ScriptedPolicy script = new ScriptedPolicy().once(kind(Direction.TO_CLIENT, "rpc-call"),
                FaultAction.replace(b -> {
                    b.setLong(b.readerIndex() + 12, 0xdeadL); // a lying server: the body changes
                    return b;
                }));
        FaultProxy p = proxy(true, Framing.rpcRecords(), script, 0);
        Socket s = connect(p);
        call(s, 7);
        DataInputStream in = new DataInputStream(s.getInputStream());
        in.readInt();
        assertEquals(7, in.readInt());
        in.readInt();
        assertEquals(0xdeadL, in.readLong());
    }

    @Test
    void cutClosesTheClientsConnection() throws Exception {
        ScriptedPolicy script = new ScriptedPolicy().once(kind(Direction.TO_SERVER, "rpc-call"), FaultAction.CUT);
        FaultProxy p = proxy(true, Framing.rpcRecords(), script, 0);
        Socket s = connect(p);
        call(s, 1);
        try {
            assertEquals(-1, s.getInputStream().read());
        } catch (SocketException reset) {
            // a reset is as good as an orderly close here: the connection is gone
        }
        ProxyConnection c = p.awaitConnection(0, WAIT);
        assertFalse(c.serverSideOpen() && c.clientSideOpen());
    }

    @Test
    void staleRequestHeldForAVanishedClientStillReachesTheServer() throws Exception {
        ScriptedPolicy script = new ScriptedPolicy().once(kind(Direction.TO_SERVER, "rpc-call"), FaultAction.HOLD);
        EchoServer counting = new EchoServer(false);
        closeables.add(counting);
        FaultProxy p = FaultProxy.to(counting.port()).framing(Framing.rpcRecords()).policy(script).start();
        closeables.add(p);
        Socket first = connect(p);
        call(first, 1);
        HeldFrame stale = p.awaitHeld(WAIT);
        stale.connection().cutClientSide();
        first.close();
        Socket second = connect(p);
        call(second, 2); // the reissue, on a new connection
        counting.awaitReceived(20, WAIT);
        assertTrue(stale.release().get(10, TimeUnit.SECONDS), "upstream of the vanished client is still open");
        counting.awaitReceived(40, WAIT);
        assertEquals(40, counting.received());
    }

    @Test
    void stoppedReadingPushesBackOnTheSenderUntilResumed() throws Exception {
        FaultProxy p = proxy(false, Framing.chunks(), FaultPolicy.FORWARD_ALL, 4096);
        EchoServer sink = (EchoServer) closeables.get(0);
        try (SocketChannel ch = SocketChannel.open(new InetSocketAddress(InetAddress.getLoopbackAddress(), p.port()))) {
            ProxyConnection c = p.awaitConnection(0, WAIT);
            c.stopReading(Direction.TO_SERVER);
            ch.configureBlocking(false);
            ByteBuffer block = ByteBuffer.allocateDirect(65536);
            long written = 0;
            long limit = 256L << 20;
            int n;
            while (written < limit && (n = ch.write(block.clear())) > 0) {
                written += n;
            }
            assertTrue(written < limit, "the sender never felt backpressure after " + written + " bytes");
            long beforeResume = sink.received();
            assertTrue(beforeResume < written, "server got everything while the proxy was not reading");
            c.resumeReading(Direction.TO_SERVER);
            sink.awaitReceived(written, WAIT);
        }
    }

    @Test
    void whatArrivesWhileStoppedIsPassedOnOnlyAfterTheResume() throws Exception {
        EchoServer counting = new EchoServer(false);
        closeables.add(counting);
        java.util.concurrent.atomic.AtomicInteger seen = new java.util.concurrent.atomic.AtomicInteger();
        FaultProxy p = FaultProxy.to(counting.port()).framing(Framing.rpcRecords()).policy(e -> {
            seen.incrementAndGet();
            return FaultAction.FORWARD;
        }).keepUpstreams().start();
        closeables.add(p);
        Socket s = connect(p);
        ProxyConnection c = p.awaitConnection(0, WAIT);
        c.stopReading(Direction.TO_SERVER);
        call(s, 1);
        s.close(); // the peer closes: Netty drains its socket whatever autoRead says
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (c.clientSideOpen()) {
            assertTrue(System.nanoTime() < deadline, "the proxy never saw the client close");
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000); // polling a condition
        }
        // The proxy has read all the client sent (its side is closed), yet nothing met the policy or went on.
        assertEquals(0, seen.get(), "a frame read while stopped went through before the resume");
        assertFalse(c.clientSideClosed().isDone(), "the close overtook the frame kept before it");
        c.resumeReading(Direction.TO_SERVER);
        c.clientSideClosed().get(10, TimeUnit.SECONDS);
        assertEquals(1, seen.get());
        counting.awaitReceived(20, WAIT);
        assertTrue(c.serverSideOpen(), "keepUpstreams: the upstream outlives its client");
    }

    @Test
    void closingTowardsTheClientStillLetsItsBytesThrough() throws Exception {
        EchoServer counting = new EchoServer(false);
        closeables.add(counting);
        FaultProxy p = FaultProxy.to(counting.port()).framing(Framing.rpcRecords()).start();
        closeables.add(p);
        Socket s = connect(p);
        ProxyConnection c = p.awaitConnection(0, WAIT);
        c.closeTowardsClient().get(10, TimeUnit.SECONDS);
        assertEquals(-1, s.getInputStream().read(), "the client sees the end of the stream");
        call(s, 7);
        counting.awaitReceived(20, WAIT);
    }

    @Test
    void connectionsAreNumberedInAcceptOrder() throws Exception {
        FaultProxy p = proxy(true, Framing.rpcRecords(), FaultPolicy.FORWARD_ALL, 0);
        connect(p);
        connect(p);
        assertEquals(0, p.awaitConnection(0, WAIT).index());
        assertEquals(1, p.awaitConnection(1, WAIT).index());
    }

    @Test
    void sameSeedSameFaultsDifferentSeedDifferentFaults() {
        List<String> a = decisions(42);
        assertEquals(a, decisions(42));
        assertNotEquals(a, decisions(43));
        assertTrue(a.stream().anyMatch(s -> !s.startsWith("Forward")), "rates this high inject something");
    }

    private static List<String> decisions(long seed) {
        RandomFaultPolicy r = RandomFaultPolicy.withSeed(seed).cut(0.01).drop(0.05).duplicate(0.05).reorder(0.05)
                .delay(0.1, Duration.ofMillis(5)).build();
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            Frame f = new Frame(io.netty.buffer.Unpooled.EMPTY_BUFFER, "chunk", -1);
            out.add(r.decide(new FaultPolicy.FrameEvent(null, Direction.values()[i & 1], i, f)).toString());
        }
        return out;
    }

    @Test
    void ratesOverOneAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> RandomFaultPolicy.withSeed(1).drop(0.6).cut(0.6).build());
    }

}
