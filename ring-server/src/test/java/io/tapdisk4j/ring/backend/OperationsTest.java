package io.tapdisk4j.ring.backend;

import io.tapdisk4j.testsupport.Await;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.frontend.BlkfrontEmulator;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.hv.sim.SimHypervisor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class OperationsTest {

    @TempDir
    Path dir;

    private static BlkifResponse get(CompletableFuture<BlkifResponse> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    @Test
    void flushAndDiscardFollowTheDevicesCapabilities() throws Exception {
        TestDevice d = new TestDevice(1 << 20, Set.of());
        try (SimRig rig = new SimRig(dir, d, FrontendOptions.defaults(), DataPath.COPY)) {
            assertEquals(Blkif.RSP_OKAY, get(rig.front.flush(0)).status());
            assertEquals(Blkif.RSP_OKAY, get(rig.front.discard(0, 8, 16, false)).status());
            assertEquals(Blkif.RSP_OKAY, get(rig.front.discard(0, 8, 16, true)).status());
            assertEquals(Blkif.RSP_ERROR, get(rig.front.discard(0, 2040, 16, false)).status(), "beyond the end");
            assertEquals(Blkif.RSP_ERROR, get(rig.front.discard(0, 0, -1L, false)).status(), "u64 sector count");
            assertEquals(List.of("flush", "discard 4096+8192", "discard 4096+8192 secure"), d.log());
            BackendStats s = rig.backend.stats();
            assertEquals(1, s.flushes());
            assertEquals(4, s.discards());
            assertEquals(2, s.errors());
        }
        TestDevice bare = new TestDevice(1 << 20, Set.of(Capability.FLUSH, Capability.DISCARD, Capability.SECURE_DISCARD));
        try (SimRig rig = new SimRig(dir, 2, bare, FrontendOptions.defaults(), DataPath.COPY, b -> b)) {
            assertEquals(Blkif.RSP_EOPNOTSUPP, get(rig.front.flush(0)).status());
            assertEquals(Blkif.RSP_EOPNOTSUPP, get(rig.front.discard(0, 8, 16, false)).status());
            assertTrue(bare.log().isEmpty());
            assertEquals("0", BackendFeatures.initWaitKeys(bare, DataPath.COPY, 256).get("feature-discard"));
            assertEquals("0", BackendFeatures.initWaitKeys(bare, DataPath.COPY, 256).get("feature-flush-cache"));
        }
        TestDevice noSecure = new TestDevice(1 << 20, Set.of(Capability.SECURE_DISCARD));
        try (SimRig rig = new SimRig(dir, 3, noSecure, FrontendOptions.defaults(), DataPath.COPY, b -> b)) {
            assertEquals(Blkif.RSP_EOPNOTSUPP, get(rig.front.discard(0, 8, 16, true)).status());
            assertEquals(Blkif.RSP_OKAY, get(rig.front.discard(0, 8, 16, false)).status());
            assertEquals("0", BackendFeatures.initWaitKeys(noSecure, DataPath.PERSISTENT, 256).get("discard-secure"));
            assertEquals("1", BackendFeatures.initWaitKeys(noSecure, DataPath.PERSISTENT, 256).get("feature-persistent"));
        }
    }

    @Test
    void barrierDrainsEverythingBeforeItAndHoldsBackEverythingAfter() throws Exception {
        TestDevice d = new TestDevice(1 << 20, Set.of());
        try (SimRig rig = new SimRig(dir, d, FrontendOptions.defaults(), DataPath.COPY);
             GuestBuffer buf = rig.front.allocateBuffer(1)) {
            d.hold(true);
            List<CompletableFuture<BlkifResponse>> before = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                before.add(rig.front.write(0, i * 8L, buf, 0, 4096));
            }
            assertTrue(d.heldSignal.tryAcquire(3, 10, TimeUnit.SECONDS));
            CompletableFuture<BlkifResponse> barrier = rig.front.barrier(0, 100, buf, 0, 4096);
            CompletableFuture<BlkifResponse> after = rig.front.write(0, 200, buf, 0, 4096);
            Await.until(() -> rig.backend.stats().inFlight() == 4, "the barrier to be taken");
            assertEquals(3, d.heldCount(), "nothing dispatched while earlier writes run");
            assertFalse(barrier.isDone());
            d.releaseHeld();
            assertEquals(Blkif.RSP_OKAY, get(barrier).status());
            assertEquals(Blkif.RSP_OKAY, get(after).status());
            for (var f : before) {
                assertEquals(Blkif.RSP_OKAY, get(f).status());
            }
            assertEquals(List.of("write 0", "write 4096", "write 8192", "flush", "write 51200 fua", "write 102400"), d.log());
            assertEquals(Blkif.RSP_OKAY, get(rig.front.barrier(0, 0, null, 0, 0)).status(), "barrier without data");
        }
    }

    @Test
    void severalQueuesServeInParallel() throws Exception {
        TestDevice d = new TestDevice(8 << 20, Set.of());
        FrontendOptions o = FrontendOptions.defaults().withQueues(4).withRingOrder(1);
        try (SimRig rig = new SimRig(dir, d, o, DataPath.COPY)) {
            assertEquals(4, rig.front.queueSpecs().size());
            List<CompletableFuture<BlkifResponse>> all = new ArrayList<>();
            List<GuestBuffer> bufs = new ArrayList<>();
            for (int q = 0; q < 4; q++) {
                for (int i = 0; i < 40; i++) {
                    GuestBuffer b = rig.front.allocateBuffer(2);
                    byte[] data = new byte[8192];
                    Arrays.fill(data, (byte) (q * 40 + i));
                    b.put(0, data);
                    bufs.add(b);
                    all.add(rig.front.write(q, (q * 40 + i) * 16L, b, 0, 8192));
                }
            }
            for (var f : all) {
                assertEquals(Blkif.RSP_OKAY, get(f).status());
            }
            try (GuestBuffer r = rig.front.allocateBuffer(2)) {
                for (int n = 0; n < 160; n++) {
                    assertEquals(Blkif.RSP_OKAY, get(rig.front.read((n + 1) % 4, n * 16L, r, 0, 8192)).status());
                    byte[] expect = new byte[8192];
                    Arrays.fill(expect, (byte) n);
                    assertArrayEquals(expect, r.get(0, 8192), "block " + n);
                }
            }
            bufs.forEach(GuestBuffer::close);
            assertEquals(160, rig.backend.stats().writes());
            assertEquals(160L * 8192, rig.backend.stats().bytesWritten());
        }
    }

    @Test
    void readOnlyDeviceRefusesEveryWrite() throws Exception {
        TestDevice d = new TestDevice(1 << 20, Set.of());
        try (SimRig rig = new SimRig(dir, 1, d, FrontendOptions.defaults(), DataPath.COPY, b -> b.readOnly(true));
             GuestBuffer b = rig.front.allocateBuffer(1)) {
            assertEquals(Blkif.RSP_ERROR, get(rig.front.write(0, 0, b, 0, 4096)).status());
            assertEquals(Blkif.RSP_ERROR, get(rig.front.barrier(0, 0, b, 0, 4096)).status());
            assertEquals(Blkif.RSP_ERROR, get(rig.front.discard(0, 0, 8, false)).status());
            assertEquals(Blkif.RSP_OKAY, get(rig.front.read(0, 0, b, 0, 4096)).status());
            assertTrue(d.log().stream().noneMatch(s -> s.startsWith("write") || s.startsWith("discard")));
            assertEquals("4", BackendFeatures.connectKeys(d, true).get("info"));
            assertEquals("2048", BackendFeatures.connectKeys(d, true).get("sectors"));
        }
    }

    @Test
    void closeAnswersRequestsStillRunningAfterTheTimeout() throws Exception {
        TestDevice d = new TestDevice(1 << 20, Set.of());
        try (SimRig rig = new SimRig(dir, 1, d, FrontendOptions.defaults(), DataPath.COPY,
                b -> b.closeTimeout(Duration.ofMillis(200)));
             GuestBuffer b = rig.front.allocateBuffer(1)) {
            d.hold(true);
            CompletableFuture<BlkifResponse> read = rig.front.read(0, 0, b, 0, 4096);
            CompletableFuture<BlkifResponse> write = rig.front.write(0, 8, b, 0, 4096);
            assertTrue(d.heldSignal.tryAcquire(2, 10, TimeUnit.SECONDS));
            rig.backend.closeAsync().get(10, TimeUnit.SECONDS);
            assertEquals(Blkif.RSP_ERROR, get(read).status());
            assertEquals(Blkif.RSP_ERROR, get(write).status());
            d.releaseHeld(); // late completions only release their buffers
        }
    }

    @Test
    void closeWaitsForRequestsThatFinishInTime() throws Exception {
        TestDevice d = new TestDevice(1 << 20, Set.of());
        try (SimRig rig = new SimRig(dir, d, FrontendOptions.defaults(), DataPath.COPY);
             GuestBuffer b = rig.front.allocateBuffer(1)) {
            d.hold(true);
            CompletableFuture<BlkifResponse> write = rig.front.write(0, 8, b, 0, 4096);
            assertTrue(d.heldSignal.tryAcquire(1, 10, TimeUnit.SECONDS));
            CompletableFuture<Void> closed = rig.backend.closeAsync();
            assertFalse(closed.isDone());
            d.releaseHeld();
            closed.get(10, TimeUnit.SECONDS);
            assertEquals(Blkif.RSP_OKAY, get(write).status());
        }
    }

    @Test
    void indexesWrapAroundU32EndToEnd() throws Exception {
        try (SimHypervisor hv = new SimHypervisor(dir); SimGuest g = SimGuest.create(dir, 1, 256, 1024);
             BlkfrontEmulator front = BlkfrontEmulator.create(g, FrontendOptions.defaults());
             TestDevice d = new TestDevice(1 << 20, Set.of())) {
            front.startIndexesAt(0, 0xFFFFFFF0);
            ConcurrentLinkedQueue<Integer> statuses = new ConcurrentLinkedQueue<>();
            BackendListener l = new BackendListener() {
                @Override
                public void onRequest(int queue, int operation, long bytes, long latencyNanos, int status) {
                    statuses.add(status);
                }
            };
            try (BlkifBackend backend = BlkifBackend.start(BackendSpec.builder(hv, 1, d).queues(front.queueSpecs())
                    .listener(l).build()); GuestBuffer b = front.allocateBuffer(1)) {
                for (int i = 0; i < 100; i++) {
                    b.put(0, new byte[]{(byte) i});
                    assertEquals(Blkif.RSP_OKAY, get(front.write(0, i, b, 0, 512)).status());
                }
                assertEquals(Blkif.RSP_OKAY, get(front.read(0, 42, b, 0, 512)).status());
                assertEquals(42, b.get(0, 1)[0]);
                assertEquals(101, statuses.size());
                assertTrue(statuses.stream().allMatch(s -> s == 0));
                assertEquals(0, backend.stats().inFlight());
                assertTrue(backend.stats().latencyNanosMax() > 0);
            }
        }
    }
}
