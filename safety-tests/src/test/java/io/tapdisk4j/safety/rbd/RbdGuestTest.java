package io.tapdisk4j.safety.rbd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.rbd.testing.CephCluster;
import io.tapdisk4j.ring.backend.BackendSpec;
import io.tapdisk4j.ring.backend.BlkifBackend;
import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.frontend.BlkfrontEmulator;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.hv.sim.SimHypervisor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ring server serving an emulated guest (blkfront on the simulated hypervisor, grant copy) from an rbd://
 * VDI: what the guest writes is what {@code rbd export} finds, byte for byte; with the cluster away past the
 * URI's timeout the guest's requests end with BLKIF_RSP_ERROR, and it works again once the OSD is back.
 */
@Timeout(600)
class RbdGuestTest {

    @TempDir
    Path dir;

    @Test
    void guestOnAnRbdVdi() throws Exception {
        CephCluster ceph = CephCluster.shared();
        String image = "guest-" + ProcessHandle.current().pid();
        int size = 32 << 20;
        ceph.rbd("create", "--size", "32M", CephCluster.POOL + "/" + image);
        byte[] model = new byte[size];
        SplittableRandom r = new SplittableRandom(0x9e57);
        try (BlockDevice rbd = BlockDevices.loadDefault().open(ceph.uri(image, "&timeout=3"));
             SimHypervisor hv = new SimHypervisor(dir); SimGuest guest = SimGuest.create(dir, 1, 4096, 16384);
             BlkfrontEmulator front = BlkfrontEmulator.create(guest, FrontendOptions.defaults().withQueues(2).withRingOrder(1));
             BlkifBackend backend = BlkifBackend.start(BackendSpec.builder(hv, 1, rbd).name("rbd-guest")
                     .queues(front.queueSpecs()).dataPath(DataPath.COPY).build());
             GuestBuffer page = front.allocateBuffer(16)) {
            for (int i = 0; i < 200; i++) {
                int length = (1 + r.nextInt(128)) * 512;
                long sector = r.nextLong((size - length) / 512);
                byte[] data = new byte[length];
                r.nextBytes(data);
                page.put(0, data);
                BlkifResponse w = front.write(i % 2, sector, page, 0, length).get(60, TimeUnit.SECONDS);
                assertTrue(w.ok(), "write " + i + ": status " + w.status());
                System.arraycopy(data, 0, model, (int) sector * 512, length);
                if (i % 10 == 0) {
                    long rs = r.nextLong((size - 65536) / 512);
                    BlkifResponse rd = front.read(0, rs, page, 0, 65536).get(60, TimeUnit.SECONDS);
                    assertTrue(rd.ok());
                    assertArrayEquals(Arrays.copyOfRange(model, (int) rs * 512, (int) rs * 512 + 65536), page.get(0, 65536),
                            "read " + i);
                }
            }
            // The cluster goes away: past timeout=3 the guest's requests fail and the ring server says so.
            ceph.killOsd();
            try {
                page.put(0, new byte[4096]);
                CompletableFuture<BlkifResponse> w = front.write(0, 0, page, 0, 4096);
                CompletableFuture<BlkifResponse> rd = front.read(1, 8, page, 4096, 4096);
                assertEquals(Blkif.RSP_ERROR, w.get(120, TimeUnit.SECONDS).status());
                assertEquals(Blkif.RSP_ERROR, rd.get(120, TimeUnit.SECONDS).status());
            } finally {
                ceph.startOsd();
            }
            byte[] again = new byte[4096];
            r.nextBytes(again);
            page.put(0, again);
            // Its placement groups peer again within seconds; until then a request may still time out.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!front.write(0, 16, page, 0, 4096).get(60, TimeUnit.SECONDS).ok()) {
                assertTrue(System.nanoTime() < deadline, "the guest's writes keep failing after the OSD is back");
            }
            System.arraycopy(again, 0, model, 16 * 512, 4096);
        }
        Path out = dir.resolve("export.raw");
        ceph.rbd("export", CephCluster.POOL + "/" + image, out.toString());
        byte[] stored = Files.readAllBytes(out);
        // The failed write of zeroes at sector 0 may or may not have reached storage: compare around it.
        assertArrayEquals(Arrays.copyOfRange(model, 4096, size), Arrays.copyOfRange(stored, 4096, size));
        byte[] head = Arrays.copyOfRange(stored, 0, 4096);
        assertTrue(Arrays.equals(head, Arrays.copyOfRange(model, 0, 4096)) || Arrays.equals(head, new byte[4096]),
                "sector 0 holds either the old data or the failed write's");
    }
}
