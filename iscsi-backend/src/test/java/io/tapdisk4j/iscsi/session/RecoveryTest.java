package io.tapdisk4j.iscsi.session;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.iscsi.device.IscsiBlockDevice;
import io.tapdisk4j.iscsi.device.IscsiUrl;
import io.tapdisk4j.testsupport.peers.Tgtd;
import io.tapdisk4j.testsupport.proxy.FaultAction;
import io.tapdisk4j.testsupport.proxy.FaultPolicy;
import io.tapdisk4j.testsupport.proxy.FaultProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Faults while writing: the target killed and restarted, connections cut, answers delayed. Every write
 * acknowledged must be in the backing file afterwards; recovery is ERL 0 (log in again, reissue).
 */
class RecoveryTest {

    static final long SIZE = 64L << 20;
    static final int BLOCK = 64 * 1024;

    @TempDir
    static Path dir;
    static Path disk;
    static Tgtd tgtd;

    @BeforeAll
    static void start() throws Exception {
        disk = dir.resolve("disk.raw");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(SIZE);
        }
        tgtd = Tgtd.start(dir.resolve("tgtd")).targetWithLun(disk);
    }

    @AfterAll
    static void stop() {
        if (tgtd != null) {
            tgtd.close();
        }
    }

    static IscsiBlockDevice open(int port, Duration command, Duration nopInterval, Duration nopTimeout) throws Exception {
        IscsiUrl url = IscsiUrl.parse(DeviceUri.parse("iscsi://127.0.0.1:" + port + "/" + Tgtd.IQN + "/1"));
        SessionConfig config = url.sessionConfig().withTimeouts(command, nopInterval, nopTimeout, Duration.ofSeconds(60));
        return IscsiBlockDevice.open(url, config, false);
    }

    static byte[] pattern(int index, int tag) {
        byte[] b = new byte[BLOCK];
        Arrays.fill(b, (byte) (index * 31 + tag));
        b[0] = (byte) index;
        b[1] = (byte) (index >> 8);
        b[2] = (byte) tag;
        return b;
    }

    /**
     * Writes {@code count} blocks, {@code depth} in flight, calling {@code atCompletion} with the number of
     * writes acknowledged so far after each acknowledgement; returns every write's future.
     */
    static List<CompletableFuture<Void>> writeStream(IscsiBlockDevice d, long base, int count, int depth, int tag,
                                                     IntConsumer atCompletion) throws Exception {
        Semaphore window = new Semaphore(depth);
        List<CompletableFuture<Void>> all = new ArrayList<>();
        java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
        for (int i = 0; i < count; i++) {
            assertTrue(window.tryAcquire(90, TimeUnit.SECONDS), "write window never reopened");
            ByteBuf data = Buffers.direct(BLOCK);
            data.writeBytes(pattern(i, tag));
            CompletableFuture<Void> f = d.write(base + (long) i * BLOCK, data, false);
            f.whenComplete((v, e) -> {
                window.release();
                atCompletion.accept(done.incrementAndGet());
            });
            all.add(f);
        }
        return all;
    }

    static void assertAllWritten(List<CompletableFuture<Void>> writes, long base, int tag) throws Exception {
        CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(90, TimeUnit.SECONDS);
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "r")) {
            byte[] b = new byte[BLOCK];
            for (int i = 0; i < writes.size(); i++) {
                f.seek(base + (long) i * BLOCK);
                f.readFully(b);
                assertArrayEquals(pattern(i, tag), b, "acknowledged write " + i + " missing from the backing file");
            }
        }
    }

    @Test
    void targetKilledAndRestartedDuringAWriteStream() throws Exception {
        try (IscsiBlockDevice d = open(tgtd.port(), Duration.ofSeconds(10), Duration.ofSeconds(2), Duration.ofSeconds(4))) {
            CountDownLatch some = new CountDownLatch(1);
            CompletableFuture<Void> restarted = new CompletableFuture<>();
            Thread chaos = Thread.ofPlatform().start(() -> {
                try {
                    assertTrue(some.await(60, TimeUnit.SECONDS));
                    tgtd.kill();
                    tgtd.restart();
                    restarted.complete(null);
                } catch (Throwable t) {
                    restarted.completeExceptionally(t);
                }
            });
            List<CompletableFuture<Void>> writes = writeStream(d, 0, 300, 16, 1, n -> {
                if (n == 60) {
                    some.countDown();
                }
            });
            restarted.get(60, TimeUnit.SECONDS);
            assertTrue(chaos.join(Duration.ofSeconds(60)), "the connection cutter finished");
            assertAllWritten(writes, 0, 1);
            assertTrue(d.session().reconnects() >= 1, "the session logged in again");
            // The device goes on working on the restarted target.
            ByteBuf back = d.read(0, BLOCK).get(30, TimeUnit.SECONDS);
            try {
                byte[] b = new byte[BLOCK];
                back.getBytes(0, b);
                assertArrayEquals(pattern(0, 1), b);
            } finally {
                back.release();
            }
        }
    }

    @Test
    void connectionsCutRepeatedlyDuringWrites() throws Exception {
        try (FaultProxy proxy = FaultProxy.to(tgtd.port()).start();
             IscsiBlockDevice d = open(proxy.port(), Duration.ofSeconds(10), Duration.ofSeconds(2), Duration.ofSeconds(4))) {
            List<CompletableFuture<Void>> writes = writeStream(d, 24L << 20, 240, 16, 2, n -> {
                if (n == 40 || n == 120 || n == 200) {
                    proxy.cutAll();
                }
            });
            assertAllWritten(writes, 24L << 20, 2);
            assertTrue(d.session().reconnects() >= 3, "reconnects: " + d.session().reconnects());
            assertTrue(proxy.connectionsAccepted() >= 4);
        }
    }

    /** Answers held back for less than any timeout: everything completes late, on the same connection. */
    @Test
    void delayedAnswersAreWaitedFor() throws Exception {
        try (FaultProxy proxy = FaultProxy.to(tgtd.port()).start();
             IscsiBlockDevice d = open(proxy.port(), Duration.ofSeconds(20), Duration.ofSeconds(10), Duration.ofSeconds(20))) {
            proxy.policy(FaultPolicy.replies(FaultAction.HOLD));
            List<CompletableFuture<Void>> writes = writeStream(d, 40L << 20, 8, 8, 3, n -> { });
            CompletableFuture<Void> all = CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new));
            // Nothing can complete while the answers are held.
            assertThrows(java.util.concurrent.TimeoutException.class, () -> all.get(700, TimeUnit.MILLISECONDS));
            proxy.resume(FaultPolicy.FORWARD_ALL);
            assertAllWritten(writes, 40L << 20, 3);
            assertEquals(0, d.session().reconnects());
        }
    }

    /**
     * Answers held back beyond the command timeout: ABORT TASK, then LOGICAL UNIT RESET go unanswered, the
     * connection is dropped and a new one (the proxy no longer stalling) completes every write.
     */
    @Test
    void stalledTargetIsAbortedResetAndReconnected() throws Exception {
        try (FaultProxy proxy = FaultProxy.to(tgtd.port()).start();
             IscsiBlockDevice d = open(proxy.port(), Duration.ofMillis(800), Duration.ofSeconds(30), Duration.ofMillis(800))) {
            proxy.policy(FaultPolicy.replies(FaultAction.HOLD));
            List<CompletableFuture<Void>> writes = writeStream(d, 44L << 20, 16, 16, 4, n -> { });
            CompletableFuture<Void> all = CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new));
            assertThrows(java.util.concurrent.TimeoutException.class, () -> all.get(300, TimeUnit.MILLISECONDS));
            // The initiator gives up on the stalled connection and connects again; that one is served normally.
            assertTrue(proxy.awaitConnections(2, Duration.ofSeconds(30)), "no reconnect after the stall");
            proxy.resume(FaultPolicy.FORWARD_ALL);
            assertAllWritten(writes, 44L << 20, 4);
            assertTrue(d.session().reconnects() >= 1);
        }
    }

    @Test
    void targetGoneForGoodFailsCommandsAfterTheRecoveryTimeout() throws Exception {
        FaultProxy proxy = FaultProxy.to(tgtd.port()).start();
        IscsiUrl url = IscsiUrl.parse(DeviceUri.parse("iscsi://127.0.0.1:" + proxy.port() + "/" + Tgtd.IQN + "/1"));
        SessionConfig config = url.sessionConfig().withTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(1),
                Duration.ofSeconds(2), Duration.ofMillis(1500));
        try (IscsiBlockDevice d = IscsiBlockDevice.open(url, config, false)) {
            proxy.close(); // the portal disappears: every reconnect is refused
            ByteBuf data = Buffers.zeroes(4096);
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> d.write(0, data, false).get(30, TimeUnit.SECONDS));
            assertEquals(BlockError.EIO, BlockDeviceException.errorOf(e), e.getCause().getMessage());
            assertEquals(0, data.refCnt(), "the failed write's buffer was released");
        }
    }
}
