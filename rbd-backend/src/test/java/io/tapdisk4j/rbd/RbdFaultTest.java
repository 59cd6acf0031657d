package io.tapdisk4j.rbd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.rbd.testing.CephCluster;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.tapdisk4j.block.testing.DeviceIo.dom0;
import static io.tapdisk4j.block.testing.DeviceIo.get;
import static io.tapdisk4j.rbd.RbdTesting.name;
import static io.tapdisk4j.block.testing.DeviceIo.random;
import static io.tapdisk4j.block.testing.DeviceIo.readAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cluster going away under I/O: an OSD or monitor restart stalls requests, which then complete (librbd
 * resends); a cluster away past the URI's timeout fails them with EIO. Every acknowledged write is checked
 * afterwards through {@code rbd export}.
 */
@Timeout(600)
@TestMethodOrder(MethodOrderer.MethodName.class)
class RbdFaultTest {

    private static final int WRITE = 64 << 10;
    private final CephCluster ceph = CephCluster.shared();
    private final BlockDevices devices = BlockDevices.loadDefault();

    /** Writes issued at consecutive offsets, never waiting for one another; what was acknowledged, and failures. */
    private static final class Writer {
        final BlockDevice device;
        final ConcurrentLinkedQueue<Integer> acked = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<Throwable> failed = new ConcurrentLinkedQueue<>();
        final List<CompletableFuture<Void>> all = new ArrayList<>();
        final AtomicInteger issued = new AtomicInteger();

        Writer(BlockDevice device) {
            this.device = device;
        }

        void issue(int index, long seed) throws InterruptedException {
            issued.incrementAndGet();
            CompletableFuture<Void> f = device.write((long) index * WRITE, dom0(random(WRITE, seed + index)), false);
            all.add(f.whenComplete((v, e) -> {
                if (e == null) {
                    acked.add(index);
                } else {
                    failed.add(e);
                }
            }));
        }

        void awaitAcked(int n, Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (acked.size() < n) {
                assertTrue(System.nanoTime() < deadline, "only " + acked.size() + " writes acknowledged; failures: " + failed);
                Thread.onSpinWait();
            }
        }
    }

    @Test
    void a_osdKilledAndRestartedMidWriteLosesNoAcknowledgedWrite(@TempDir Path tmp) throws Exception {
        String image = name("osdkill");
        long seed = 0x05d;
        int total = 320; // 20 MiB
        ceph.rbd("create", "--size", "20M", CephCluster.POOL + "/" + image);
        try (BlockDevice d = devices.open(ceph.uri(image))) {
            Writer w = new Writer(d);
            int i = 0;
            for (; i < 200; i++) {
                w.issue(i, seed);
            }
            w.awaitAcked(20, Duration.ofSeconds(60));
            ceph.killOsd(); // SIGKILL with writes in flight
            int atKill = w.acked.size();
            for (; i < 208; i++) {
                w.issue(i, seed); // these stall: nothing completes while the OSD is gone
            }
            long stalled = 8 - w.acked.stream().filter(k -> k >= 200).count();
            ceph.startOsd();
            for (; i < total; i++) {
                w.issue(i, seed);
            }
            CompletableFuture.allOf(w.all.toArray(CompletableFuture[]::new)).handle((v, e) -> null).get(300, TimeUnit.SECONDS);
            assertEquals(List.of(), List.copyOf(w.failed), "writes failed across the OSD restart");
            assertEquals(total, w.acked.size());
            assertEquals(8, stalled, "writes issued while the OSD was down stalled until it came back");
            System.out.println("[rbd] " + (200 - atKill) + " writes in flight at the OSD's SIGKILL, 8 issued while it was down");
            get(d.flush());
        }
        Path out = tmp.resolve("export.raw");
        ceph.rbd("export", CephCluster.POOL + "/" + image, out.toString());
        byte[] all = Files.readAllBytes(out);
        for (int i = 0; i < total; i++) {
            assertArrayEquals(random(WRITE, seed + i), Arrays.copyOfRange(all, i * WRITE, (i + 1) * WRITE), "write " + i);
        }
    }

    @Test
    void b_monitorRestartMidWriteCompletes() throws Exception {
        String image = name("monkill");
        long seed = 0x3011;
        int total = 96;
        try (BlockDevice d = devices.provider(DeviceUri.parse(ceph.uri(image))).create(DeviceUri.parse(ceph.uri(image)),
                (long) total * WRITE)) {
            Writer w = new Writer(d);
            int i = 0;
            for (; i < 32; i++) {
                w.issue(i, seed);
            }
            ceph.restartMon();
            for (; i < total; i++) {
                w.issue(i, seed);
            }
            CompletableFuture.allOf(w.all.toArray(CompletableFuture[]::new)).handle((v, e) -> null).get(300, TimeUnit.SECONDS);
            assertEquals(List.of(), List.copyOf(w.failed));
            get(d.flush());
            for (int k = 0; k < total; k += 7) {
                assertArrayEquals(random(WRITE, seed + k), readAll(d, (long) k * WRITE, WRITE), "write " + k);
            }
        }
    }

    @Test
    void c_clusterAwayPastTheTimeoutFailsRequestsWithEio() throws Exception {
        String image = name("away");
        ceph.rbd("create", "--size", "8M", CephCluster.POOL + "/" + image);
        try (BlockDevice d = devices.open(ceph.uri(image, "&timeout=3"))) {
            get(d.write(0, dom0(random(4096, 1)), true));
            ceph.killOsd();
            try {
                long start = System.nanoTime();
                ExecutionException write = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                        () -> d.write(1 << 20, dom0(random(4096, 2)), false).get(120, TimeUnit.SECONDS));
                assertEquals(BlockError.EIO, BlockDeviceException.errorOf(write));
                assertTrue(write.getCause().getMessage().contains("ETIMEDOUT"), write.getCause().getMessage());
                ExecutionException read = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                        () -> d.read(2 << 20, 4096).get(120, TimeUnit.SECONDS));
                assertEquals(BlockError.EIO, BlockDeviceException.errorOf(read));
                assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(60), "failed within the timeout's order");
            } finally {
                ceph.startOsd();
            }
        }
        try (BlockDevice d = devices.open(ceph.uri(image))) {
            assertArrayEquals(random(4096, 1), readAll(d, 0, 4096)); // the acknowledged write survived
        }
    }
}
