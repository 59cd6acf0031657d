package io.tapdisk4j.ring.xenbus;

import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.blkif.Abi;
import io.tapdisk4j.ring.frontend.BlkfrontEmulator;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The whole vbd3 handshake, the Java blkfront emulator as the guest, tapback as the backend. */
class XenbusHandshakeTest {

    @TempDir
    Path dir;

    static Path disk(Path dir, String name, int mib) throws Exception {
        Path p = dir.resolve(name);
        try (var f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            f.setLength((long) mib << 20);
        }
        return p;
    }

    /** Writes a pattern through the ring and reads it back on every queue. */
    static void roundTrip(BlkfrontEmulator front, long sector, int length, byte seed) throws Exception {
        for (int q = 0; q < front.queueCount(); q++) {
            byte[] data = new byte[length];
            for (int i = 0; i < length; i++) {
                data[i] = (byte) (seed + q + i * 7);
            }
            long s = sector + (long) q * (length / 512);
            try (GuestBuffer w = front.allocateBuffer((length + 4095) / 4096);
                 GuestBuffer r = front.allocateBuffer((length + 4095) / 4096)) {
                w.put(0, data);
                BlkifResponse wr = front.write(q, s, w, 0, length).get(10, TimeUnit.SECONDS);
                assertTrue(wr.ok(), "write on queue " + q + ": " + wr);
                BlkifResponse rr = front.read(q, s, r, 0, length).get(10, TimeUnit.SECONDS);
                assertTrue(rr.ok(), "read on queue " + q + ": " + rr);
                assertArrayEquals(data, r.get(0, length));
            }
        }
    }

    /** Takes the device's changes (as a listener queued them) until one reports its removal. */
    static void awaitRemoval(LinkedBlockingQueue<String> changes) throws InterruptedException {
        String last;
        do {
            last = changes.poll(30, TimeUnit.SECONDS);
            assertNotNull(last, "device never reported its removal");
            assertFalse(last.startsWith("removeVbd failed"), last);
        } while (!last.endsWith("removed"));
    }

    @Test
    void singlePageHandshakeIoCloseReconnectAndRemoval() throws Exception {
        Path disk = disk(dir, "disk.raw", 8);
        try (XenbusRig rig = new XenbusRig(dir, DataPath.COPY)) {
            LinkedBlockingQueue<String> changes = new LinkedBlockingQueue<>();
            rig.tapback.addListener(i -> changes.add(i.id() + " " + i.state() + " " + i.phase()));
            VbdId id = new VbdId(1, 51712);
            Toolstack.createVbd(rig.xs, id, "file://" + disk, false);
            SimGuest guest = rig.guest(1);
            BlkfrontXenbus front = rig.keep(BlkfrontXenbus.connect(rig.xs, guest, id, FrontendOptions.defaults(),
                    XenbusRig.TIMEOUT));
            assertEquals(8L << 20 >> 9, front.sectors());
            assertEquals(512, front.sectorSize());
            assertFalse(front.readOnly());
            String be = id.backendPath();
            assertEquals("4", rig.xs.read(be + "/max-ring-page-order"));
            assertEquals("16", rig.xs.read(be + "/multi-queue-max-queues"));
            assertEquals("256", rig.xs.read(be + "/feature-max-indirect-segments"));
            assertEquals("1", rig.xs.read(be + "/feature-flush-cache"));
            assertEquals("1", rig.xs.read(be + "/feature-barrier"));
            assertNotNull(rig.xs.read(be + "/feature-discard"));
            assertEquals("4096", rig.xs.read(be + "/physical-sector-size"));
            assertEquals("4", rig.xs.read(id.frontendPath() + "/state"));

            roundTrip(front.emulator(), 8, 65536, (byte) 1);
            byte[] onDisk = Arrays.copyOfRange(Files.readAllBytes(disk), 8 * 512, 8 * 512 + 16);
            assertEquals((byte) 1, onDisk[0]);
            assertEquals((byte) 8, onDisk[1]);

            VbdInfo info = rig.tapback.device(1, 51712).orElseThrow();
            assertEquals("connected", info.phase());
            assertEquals(XenbusState.CONNECTED, info.state());
            assertEquals("file://" + disk, info.uri());
            assertEquals(1, info.queues());
            assertEquals("copy", info.dataPath());
            assertEquals(1, info.stats().writes());
            assertEquals(65536, info.stats().bytesRead());

            front.disconnect();
            assertEquals(XenbusState.CLOSED, rig.tapback.device(1, 51712).orElseThrow().state());
            front.reconnect();
            roundTrip(front.emulator(), 1000, 4096, (byte) 9);
            VbdInfo again = rig.tapback.device(1, 51712).orElseThrow();
            assertEquals(2, again.total().writes()); // counters survive the reconnection

            Toolstack.removeVbd(rig.xs, id);
            awaitRemoval(changes);
            assertTrue(rig.tapback.devices().isEmpty());
            assertTrue(rig.xs.readOptional("/local/domain/0/error/backend/vbd3/1/51712/error").isEmpty());
        }
    }

    @Test
    void multiPageMultiQueuePersistentAndThirtyTwoBitGuests() throws Exception {
        Path disk = disk(dir, "disk.raw", 16);
        Path disk2 = disk(dir, "disk2.raw", 4);
        try (XenbusRig rig = new XenbusRig(dir, DataPath.PERSISTENT)) {
            VbdId a = new VbdId(3, 768);
            VbdId b = new VbdId(4, 832);
            Toolstack.createVbd(rig.xs, a, "file://" + disk, false);
            Toolstack.createVbd(rig.xs, b, "file://" + disk2, false);
            BlkfrontXenbus fa = rig.keep(BlkfrontXenbus.connect(rig.xs, rig.guest(3), a,
                    new FrontendOptions(4, 2, Abi.X86_64, true, 256), XenbusRig.TIMEOUT));
            BlkfrontXenbus fb = rig.keep(BlkfrontXenbus.connect(rig.xs, rig.guest(4), b,
                    new FrontendOptions(1, 1, Abi.X86_32, false, 0), XenbusRig.TIMEOUT));
            assertEquals("4", rig.xs.read(a.frontendPath() + "/multi-queue-num-queues"));
            assertNotNull(rig.xs.read(a.frontendPath() + "/queue-3/ring-ref3"));
            roundTrip(fa.emulator(), 0, 131072, (byte) 3);
            roundTrip(fb.emulator(), 0, 8192, (byte) 5);
            VbdInfo ia = rig.tapback.device(3, 768).orElseThrow();
            assertEquals(4, ia.queues());
            assertEquals(2, ia.ringOrder());
            assertEquals("persistent", ia.dataPath());
            VbdInfo ib = rig.tapback.device(4, 832).orElseThrow();
            assertEquals(1, ib.ringOrder());
            assertEquals("copy", ib.dataPath()); // that frontend did not offer persistent grants
            assertEquals(List.of(a, b), rig.tapback.devices().stream().map(VbdInfo::id).toList());
        }
    }

    @Test
    void readOnlyModeIsReportedAndEnforced() throws Exception {
        Path disk = disk(dir, "ro.raw", 2);
        try (XenbusRig rig = new XenbusRig(dir, DataPath.COPY)) {
            VbdId id = new VbdId(2, 51728);
            Toolstack.createVbd(rig.xs, id, "file://" + disk, true);
            BlkfrontXenbus f = rig.keep(BlkfrontXenbus.connect(rig.xs, rig.guest(2), id, FrontendOptions.defaults(),
                    XenbusRig.TIMEOUT));
            assertTrue(f.readOnly());
            assertEquals("4", rig.xs.read(id.backendPath() + "/info"));
            try (GuestBuffer w = f.emulator().allocateBuffer(1)) {
                assertFalse(f.emulator().write(0, 0, w, 0, 4096).get(10, TimeUnit.SECONDS).ok());
                assertTrue(f.emulator().read(0, 0, w, 0, 4096).get(10, TimeUnit.SECONDS).ok());
            }
        }
    }

    @Test
    void onlineZeroReleasesAndCtlDetach() throws Exception {
        Path disk = disk(dir, "d.raw", 2);
        try (XenbusRig rig = new XenbusRig(dir, DataPath.COPY)) {
            VbdId id = new VbdId(5, 768);
            Toolstack.createVbd(rig.xs, id, "file://" + disk, false);
            rig.keep(BlkfrontXenbus.connect(rig.xs, rig.guest(5), id, FrontendOptions.defaults(), XenbusRig.TIMEOUT));
            Toolstack.setOffline(rig.xs, id);
            rig.awaitState(id, XenbusState.CLOSED);
            VbdInfo off = rig.tapback.device(5, 768).orElseThrow();
            assertEquals("released", off.phase());
            assertNull(off.stats());
            assertTrue(rig.tapback.pause(id).handle((v, e) -> e != null).get(10, TimeUnit.SECONDS));

            VbdId id2 = new VbdId(6, 768);
            Toolstack.createVbd(rig.xs, id2, "file://" + disk, false);
            BlkfrontXenbus f2 = rig.keep(BlkfrontXenbus.connect(rig.xs, rig.guest(6), id2,
                    FrontendOptions.defaults(), XenbusRig.TIMEOUT));
            assertEquals(id2 + " detached", rig.tapback.detach(id2).get(10, TimeUnit.SECONDS));
            assertEquals(XenbusState.CLOSED, f2.backendState());
            assertEquals("detached", rig.tapback.device(6, 768).orElseThrow().phase());
        }
    }

    /**
     * The toolstack removes the device while the backend is between deciding on a state and writing it (the
     * listener runs there, on the device's thread). The write must not bring the directory back: that left
     * a lone backend/.../state node, and the device never reported its removal.
     */
    @Test
    void removalWhileTheBackendWritesItsStateLeavesNothingBehind() throws Exception {
        Path disk = disk(dir, "r.raw", 2);
        try (XenbusRig rig = new XenbusRig(dir, DataPath.COPY)) {
            VbdId id = new VbdId(7, 51712);
            Toolstack.createVbd(rig.xs, id, "file://" + disk, false);
            rig.keep(BlkfrontXenbus.connect(rig.xs, rig.guest(7), id, FrontendOptions.defaults(), XenbusRig.TIMEOUT));
            LinkedBlockingQueue<String> changes = new LinkedBlockingQueue<>();
            java.util.concurrent.atomic.AtomicBoolean removed = new java.util.concurrent.atomic.AtomicBoolean();
            rig.tapback.addListener(i -> {
                if (i.state() == XenbusState.CLOSED && removed.compareAndSet(false, true)) {
                    try {
                        Toolstack.removeVbd(rig.xs, id);
                    } catch (Exception e) {
                        changes.add("removeVbd failed: " + e);
                    }
                }
                changes.add(i.state() + " " + i.phase());
            });
            rig.xs.write(id.frontendPath() + "/state", XenbusState.CLOSING.value());
            awaitRemoval(changes);
            assertTrue(removed.get());
            assertFalse(rig.xs.exists(id.backendPath()), "the backend directory came back");
            assertTrue(rig.tapback.devices().isEmpty());
        }
    }
}
