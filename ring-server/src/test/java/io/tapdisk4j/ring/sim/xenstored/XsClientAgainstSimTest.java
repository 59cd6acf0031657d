package io.tapdisk4j.ring.sim.xenstored;

import io.tapdisk4j.ring.xenstore.XsClient;
import io.tapdisk4j.ring.xenstore.XsConflictException;
import io.tapdisk4j.ring.xenstore.XsConnectionException;
import io.tapdisk4j.ring.xenstore.XsError;
import io.tapdisk4j.ring.xenstore.XsErrorException;
import io.tapdisk4j.ring.xenstore.XsMessage;
import io.tapdisk4j.ring.xenstore.XsNoEntryException;
import io.tapdisk4j.ring.xenstore.XsPerm;
import io.tapdisk4j.ring.xenstore.XsTransaction;
import io.tapdisk4j.ring.xenstore.XsType;
import io.tapdisk4j.ring.xenstore.XsWatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** tapdisk4j's xenstore client against the simulated xenstored: semantics, pipelining, reconnection. */
class XsClientAgainstSimTest {

    @TempDir
    Path dir;
    private Path sock;
    private SimXenstored xenstored;
    private XsClient xs;

    @BeforeEach
    void start() throws IOException {
        sock = dir.resolve("xenstored.sock");
        xenstored = SimXenstored.start(sock);
        xs = XsClient.connect(sock);
    }

    @AfterEach
    void stop() {
        xs.close();
        xenstored.close();
    }

    private static String poll(BlockingQueue<String> q) throws InterruptedException {
        String s = q.poll(10, TimeUnit.SECONDS);
        if (s == null) {
            throw new AssertionError("no watch event within 10 s");
        }
        return s;
    }

    @Test
    void treeOperationsAndErrors() throws Exception {
        xs.write("/a/b/c", "v");
        assertEquals("v", xs.read("/a/b/c"));
        assertEquals("", xs.read("/a/b")); // parents are created empty
        xs.mkdir("/a/d");
        xs.mkdir("/a/d"); // again: fine
        assertEquals(List.of("b", "d"), xs.directory("/a"));
        assertEquals(Optional.empty(), xs.readOptional("/a/zz"));
        assertThrows(XsNoEntryException.class, () -> xs.read("/a/zz"));
        assertThrows(XsNoEntryException.class, () -> xs.rm("/nope/child")); // parent missing
        xs.rm("/a/zz"); // missing child of an existing node: acknowledged
        XsErrorException bad = assertThrows(XsErrorException.class, () -> xs.read("/bad path"));
        assertEquals(XsError.EINVAL, bad.error());
        assertEquals(XsError.EINVAL, assertThrows(XsErrorException.class, () -> xs.write("/trailing/", "x")).error());
        assertEquals(XsError.EINVAL, assertThrows(XsErrorException.class, () -> xs.rm("/")).error());
        xs.setPerms("/a/b", List.of(new XsPerm(XsPerm.Access.NONE, 3), new XsPerm(XsPerm.Access.READ, 0)));
        assertEquals("n3,r0", String.join(",", xs.getPerms("/a/b").stream().map(XsPerm::toString).toList()));
        xs.write("/a/b/new", "x"); // a new child inherits its parent's permissions
        assertEquals("n3,r0", String.join(",", xs.getPerms("/a/b/new").stream().map(XsPerm::toString).toList()));
        assertEquals(XsError.EINVAL, assertThrows(XsErrorException.class,
                () -> xs.call(XsType.SET_PERMS, XsMessage.strings("/a", "q7"))).error());
        xs.rm("/a");
        assertFalse(xs.exists("/a/b/c"));
        assertEquals("/local/domain/7", xs.domainPath(7));
        assertEquals(XsError.EINVAL, assertThrows(XsErrorException.class,
                () -> xs.call(XsType.WATCH_EVENT, XsMessage.strings("/x", "t"))).error());
        assertEquals(XsError.ENOSYS, assertThrows(XsErrorException.class,
                () -> xs.call(XsType.CONTROL, XsMessage.strings("print", "x"))).error());
    }

    @Test
    void pipelinedRequestsAllGetTheirOwnAnswers() throws Exception {
        List<CompletableFuture<XsMessage>> writes = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            writes.add(xs.send(XsType.WRITE, 0, XsMessage.pathAndValue("/p/" + i, ("v" + i).getBytes())));
        }
        List<CompletableFuture<XsMessage>> reads = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            reads.add(xs.send(XsType.READ, 0, XsMessage.strings("/p/" + i)));
        }
        for (CompletableFuture<XsMessage> w : writes) {
            assertEquals("OK", w.get(10, TimeUnit.SECONDS).text());
        }
        for (int i = 0; i < 500; i++) {
            assertEquals("v" + i, new String(reads.get(i).get(10, TimeUnit.SECONDS).payload()));
        }
    }

    @Test
    void watchesFireOnRegistrationAtOrBelowAndOnRemoval() throws Exception {
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        XsWatch w = xs.watch("/local/domain/0/backend", "be", (p, t) -> events.add(t + " " + p));
        assertEquals("be /local/domain/0/backend", poll(events));
        xs.write("/local/domain/0/backendother", "x"); // a sibling whose name shares a prefix: no event
        xs.write("/local/domain/0/backend/vbd3/1/2/state", "1");
        assertEquals("be /local/domain/0/backend/vbd3/1/2/state", poll(events));
        BlockingQueue<String> deep = new LinkedBlockingQueue<>();
        try (XsWatch below = xs.watch("/local/domain/0/backend/vbd3/1/2/state", "deep", (p, t) -> deep.add(p))) {
            assertEquals("/local/domain/0/backend/vbd3/1/2/state", poll(deep));
            xs.rm("/local/domain/0/backend/vbd3");
            assertEquals("be /local/domain/0/backend/vbd3", poll(events));
            // A watch below a removed node fires with its own path.
            assertEquals("/local/domain/0/backend/vbd3/1/2/state", poll(deep));
        }
        // Relative watch paths report relative event paths.
        BlockingQueue<String> rel = new LinkedBlockingQueue<>();
        try (XsWatch r = xs.watch("device", "rel", (p, t) -> rel.add(p))) {
            assertEquals("device", poll(rel));
            xs.write("/local/domain/0/device/vbd/5", "x");
            assertEquals("device/vbd/5", poll(rel));
        }
        w.close();
        // After UNWATCH nothing more arrives: a later watch's registration event is the only thing we see.
        xs.write("/local/domain/0/backend/x", "1");
        BlockingQueue<String> marker = new LinkedBlockingQueue<>();
        try (XsWatch m = xs.watch("/marker", "m", (p, t) -> marker.add(p))) {
            assertEquals("/marker", poll(marker));
            assertThrows(IllegalArgumentException.class, () -> xs.watch("/other", "m", (p, t) -> { }));
        }
        assertNull(events.poll());
    }

    @Test
    void aConflictingTransactionFailsWithEagainAndAppliesNothing() throws Exception {
        xs.write("/counter", "0");
        XsTransaction tx = xs.begin();
        assertEquals("0", tx.read("/counter"));
        tx.write("/counter", "1");
        tx.write("/side-effect", "1");
        assertFalse(xs.exists("/side-effect")); // not visible outside before commit
        try (XsClient other = XsClient.connect(sock)) {
            other.write("/counter", "5");
        }
        assertThrows(XsConflictException.class, tx::commit);
        assertEquals("5", xs.read("/counter"));
        assertFalse(xs.exists("/side-effect"));
        // Unrelated changes do not conflict.
        try (XsTransaction t2 = xs.begin()) {
            t2.read("/counter");
            xs.write("/unrelated", "1");
            t2.write("/counter", "6");
            t2.commit();
        }
        assertEquals("6", xs.read("/counter"));
    }

    @Test
    void transactionsRetryOnEagainSoConcurrentIncrementsAllCount() throws Exception {
        xs.write("/counter", "0");
        int threads = 4;
        int each = 40;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                fs.add(pool.submit(() -> {
                    try (XsClient c = XsClient.connect(sock)) {
                        for (int i = 0; i < each; i++) {
                            c.transaction(tx -> {
                                int v = Integer.parseInt(tx.read("/counter"));
                                tx.write("/counter", Integer.toString(v + 1));
                                return null;
                            });
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(Integer.toString(threads * each), xs.read("/counter"));
    }

    @Test
    void reconnectsAfterXenstoredRestartsAndRegistersWatchesAgain() throws Exception {
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        xs.watch("/be", "tok", (p, t) -> events.add(p));
        assertEquals("/be", poll(events));
        CountDownLatch reconnected = new CountDownLatch(1);
        xs.onReconnect(reconnected::countDown);
        xenstored.close();
        assertInstanceOf(XsConnectionException.class,
                assertThrows(Exception.class, () -> {
                    for (int i = 0; i < 1000; i++) { // until the client has noticed the hang-up
                        xs.readOptional("/elsewhere");
                    }
                }));
        xenstored = SimXenstored.start(sock);
        assertTrue(reconnected.await(20, TimeUnit.SECONDS));
        assertEquals("/be", poll(events)); // re-registered, fired on registration
        xs.write("/be/x", "1");
        assertEquals("/be/x", poll(events));
    }

    @Test
    void aHostileClientIsDroppedAndOthersKeepWorking() throws Exception {
        try (SocketChannel raw = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            raw.connect(UnixDomainSocketAddress.of(sock));
            ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(99).putInt(1).putInt(0).putInt(0).flip(); // unknown type: an EINVAL answer
            raw.write(b);
            InputStream in = Channels.newInputStream(raw);
            byte[] hdr = in.readNBytes(16);
            ByteBuffer h = ByteBuffer.wrap(hdr).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(XsType.ERROR.code(), h.getInt(0));
            assertEquals(1, h.getInt(4));
            assertEquals("EINVAL\0", new String(in.readNBytes(h.getInt(12))));
            b.clear();
            b.putInt(2).putInt(2).putInt(0).putInt(1 << 20).flip(); // a 1 MiB payload: protocol violation
            raw.write(b);
            assertEquals(-1, in.read()); // dropped
        }
        xs.write("/still", "fine");
        assertEquals("fine", xs.read("/still"));
    }
}
