package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.blkif.Abi;
import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.blkif.BlkifRequest;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.GrantStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.*;

/** A guest that lies: every bad request gets an error response, the ring keeps serving, dom0 memory never leaks. */
class HostileGuestTest {

    @TempDir
    Path dir;

    private static long ids = 1L << 32;

    private static BlkifResponse get(CompletableFuture<BlkifResponse> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    private static BlkifRequest rw(int op, long sector, int nseg) {
        BlkifRequest r = new BlkifRequest(Math.max(11, nseg));
        r.operation = op;
        r.id = ids++;
        r.sectorNumber = sector;
        r.nrSegments = nseg;
        return r;
    }

    /** The ring still works after whatever happened. */
    private static void stillServes(SimRig rig) throws Exception {
        try (GuestBuffer b = rig.front.allocateBuffer(1)) {
            b.put(0, new byte[]{1, 2, 3});
            assertEquals(Blkif.RSP_OKAY, get(rig.front.write(0, 0, b, 0, 4096)).status());
            b.fill((byte) 0);
            assertEquals(Blkif.RSP_OKAY, get(rig.front.read(0, 0, b, 0, 4096)).status());
            assertArrayEquals(new byte[]{1, 2, 3}, b.get(0, 3));
        }
    }

    @ParameterizedTest
    @EnumSource(Abi.class)
    void malformedRequestsGetErrorResponses(Abi abi) throws Exception {
        TestDevice d = new TestDevice(1 << 20, Set.of());
        try (SimRig rig = new SimRig(dir, d, FrontendOptions.defaults().withAbi(abi), DataPath.COPY)) {
            int frame = rig.guest.allocateFrame();
            int ref = rig.guest.grant(frame, 0, false);
            BlkifRequest[] bad = {
                    rw(Blkif.OP_READ, 0, 0),                                  // no segments
                    rw(Blkif.OP_WRITE, 0, 12),                                // more than 11
                    rw(Blkif.OP_READ, 0, 255),
                    rw(Blkif.OP_READ, 0, 1).segment(0, ref, 0, 8),            // last_sect beyond the page
                    rw(Blkif.OP_READ, 0, 1).segment(0, ref, 5, 4),            // first > last
                    rw(Blkif.OP_READ, 2047, 1).segment(0, ref, 0, 7),         // beyond the disk
                    rw(Blkif.OP_READ, -1L, 1).segment(0, ref, 0, 0),          // u64 sector
                    rw(Blkif.OP_READ, Long.MAX_VALUE >> 9, 1).segment(0, ref, 0, 0),
                    rw(Blkif.OP_WRITE, 0, 1).segment(0, 1 << 30, 0, 7),       // grant ref beyond the table
                    rw(Blkif.OP_WRITE, 0, 1).segment(0, 3, 0, 7),             // reserved, never granted
            };
            for (BlkifRequest r : bad) {
                BlkifResponse rsp = get(rig.front.submitRaw(0, r));
                assertEquals(r.id, rsp.id());
                assertEquals(Blkif.RSP_ERROR, rsp.status(), r.toString());
                assertEquals(r.operation, rsp.operation());
            }
            for (int op : new int[]{Blkif.OP_RESERVED_1, 7, 99, 255}) {
                BlkifResponse rsp = get(rig.front.submitRaw(0, rw(op, 0, 0)));
                assertEquals(Blkif.RSP_EOPNOTSUPP, rsp.status(), "op " + op);
            }
            assertTrue(d.log().isEmpty(), "nothing reached the device: " + d.log());
            assertEquals(bad.length + 4, rig.backend.stats().badRequests());
            stillServes(rig);
        }
    }

    @Test
    void malformedIndirectRequests() throws Exception {
        TestDevice d = new TestDevice(4 << 20, Set.of());
        try (SimRig rig = new SimRig(dir, d, FrontendOptions.defaults(), DataPath.COPY)) {
            int f = rig.guest.allocateFrame();
            int pageRef = rig.guest.grant(f, 0, false);
            int ind = rig.guest.allocateFrame();
            int indRef = rig.guest.grant(ind, 0, true);
            // A segment list with a bad sector range in the indirect page.
            BlkifRequest segs = new BlkifRequest(20);
            for (int i = 0; i < 20; i++) {
                segs.segment(i, pageRef, 0, i == 13 ? 9 : 7);
            }
            io.tapdisk4j.ring.blkif.BlkifCodec.encodeSegments(rig.guest.frame(ind), 0, segs, 0, 20);

            BlkifRequest badSeg = indirect(Blkif.OP_READ, 20, indRef);
            BlkifRequest badOp = indirect(Blkif.OP_FLUSH_DISKCACHE, 20, indRef);
            BlkifRequest tooMany = indirect(Blkif.OP_READ, 257, indRef);
            BlkifRequest none = indirect(Blkif.OP_WRITE, 0, indRef);
            BlkifRequest badPage = indirect(Blkif.OP_WRITE, 5, 1 << 20);
            for (BlkifRequest r : new BlkifRequest[]{badSeg, badOp, tooMany, none, badPage}) {
                BlkifResponse rsp = get(rig.front.submitRaw(0, r));
                assertEquals(Blkif.RSP_ERROR, rsp.status(), r.toString());
                assertEquals(r.indirectOp, rsp.operation(), "blkback answers with the indirect_op");
            }
            assertTrue(d.log().isEmpty());
            stillServes(rig);
        }
        // A backend that did not advertise indirect descriptors refuses them as unsupported.
        try (SimRig rig = new SimRig(dir, 2, new TestDevice(1 << 20, Set.of()),
                FrontendOptions.defaults().withMaxIndirectSegments(0), DataPath.COPY, b -> b)) {
            assertEquals(Blkif.RSP_EOPNOTSUPP, get(rig.front.submitRaw(0, indirect(Blkif.OP_READ, 1, 8))).status());
        }
    }

    private static BlkifRequest indirect(int op, int nseg, int indRef) {
        BlkifRequest r = new BlkifRequest(0);
        r.operation = Blkif.OP_INDIRECT;
        r.indirectOp = op;
        r.nrSegments = nseg;
        r.id = ids++;
        Arrays.fill(r.indirectGrefs, indRef);
        return r;
    }

    @ParameterizedTest
    @EnumSource(value = DataPath.class, names = {"COPY", "MAP_COPY", "PERSISTENT", "UNSAFE_MAP"})
    void grantsThatDoNotAllowTheAccessFailTheRequest(DataPath path) throws Exception {
        TestDevice d = new TestDevice(1 << 20, Set.of());
        try (SimRig rig = new SimRig(dir, 1, d, FrontendOptions.defaults().withPersistent(path == DataPath.PERSISTENT),
                path, b -> b)) {
            byte[] secret = new byte[4096];
            Arrays.fill(secret, (byte) 0x77);
            try (GuestBuffer b = rig.front.allocateBuffer(1)) {
                b.put(0, secret);
                assertEquals(Blkif.RSP_OKAY, get(rig.front.write(0, 0, b, 0, 4096)).status());
            }
            int f = rig.guest.allocateFrame();
            rig.guest.frame(f).fill((byte) 0x11);
            int ro = rig.guest.grant(f, 0, true);
            int other = rig.guest.grant(f, 5, false);
            int revoked = rig.guest.grant(f, 0, false);
            rig.guest.revoke(revoked);
            for (int ref : new int[]{ro, other, revoked}) {
                BlkifResponse rsp = get(rig.front.submitRaw(0, rw(Blkif.OP_READ, 0, 1).segment(0, ref, 0, 7)));
                assertEquals(Blkif.RSP_ERROR, rsp.status(), "read into grant " + ref);
                byte[] page = new byte[4096];
                MemorySegment.copy(rig.guest.frame(f), 0, MemorySegment.ofArray(page), 0, 4096);
                byte[] expect = new byte[4096];
                Arrays.fill(expect, (byte) 0x11);
                assertArrayEquals(expect, page, "the guest page was not written");
            }
            for (int ref : new int[]{other, revoked}) {
                BlkifResponse rsp = get(rig.front.submitRaw(0, rw(Blkif.OP_WRITE, 8, 1).segment(0, ref, 0, 7)));
                assertEquals(Blkif.RSP_ERROR, rsp.status(), "write from grant " + ref);
            }
            assertTrue(d.log().stream().noneMatch(s -> s.equals("write 4096")), "failed writes never reach storage");
            stillServes(rig);
        }
    }

    @Test
    void grantRevokedMidRequestFailsIt() throws Exception {
        TestDevice d = new TestDevice(1 << 20, Set.of());
        try (SimRig rig = new SimRig(dir, d, FrontendOptions.defaults(), DataPath.COPY)) {
            int f = rig.guest.allocateFrame();
            rig.guest.frame(f).fill((byte) 0x22);
            int ref = rig.guest.grant(f, 0, false);
            d.hold(true);
            CompletableFuture<BlkifResponse> read = rig.front.submitRaw(0, rw(Blkif.OP_READ, 0, 1).segment(0, ref, 0, 7));
            assertTrue(d.heldSignal.tryAcquire(1, 10, TimeUnit.SECONDS));
            rig.guest.revoke(ref);
            d.releaseHeld();
            assertEquals(Blkif.RSP_ERROR, get(read).status());
            assertEquals(0x22, rig.guest.frame(f).get(java.lang.foreign.ValueLayout.JAVA_BYTE, 100));
        }
    }

    @Test
    void shortReadNeverCopiesAStaleBuffer() throws Exception {
        TestDevice d = new TestDevice(1 << 20, Set.of());
        try (SimRig rig = new SimRig(dir, d, FrontendOptions.defaults(), DataPath.COPY);
             GuestBuffer b = rig.front.allocateBuffer(2)) {
            b.fill((byte) 0x33);
            d.shortBy = 512;
            assertEquals(Blkif.RSP_ERROR, get(rig.front.read(0, 0, b, 0, 8192)).status());
            byte[] expect = new byte[8192];
            Arrays.fill(expect, (byte) 0x33);
            assertArrayEquals(expect, b.get(0, 8192));
            d.shortBy = 0;
            stillServes(rig);
        }
    }

    @Test
    void overrunShutsTheDeviceDown() throws Exception {
        TestDevice d = new TestDevice(1 << 20, Set.of());
        AtomicReference<String> heard = new AtomicReference<>();
        BackendListener l = new BackendListener() {
            @Override
            public void onShutdown(String reason) {
                heard.set(reason);
            }
        };
        try (SimRig rig = new SimRig(dir, 1, d, FrontendOptions.defaults(), DataPath.COPY, b -> b.listener(l))) {
            stillServes(rig);
            rig.front.forceReqProd(0, rig.front.ringSize() * 3);
            String reason = rig.backend.shutdown().get(10, TimeUnit.SECONDS);
            assertTrue(reason.contains("overran"), reason);
            assertEquals(reason, heard.get());
        }
    }

    @Test
    void requestRewrittenWhileTakenIsHandledAsOneConsistentSnapshot() throws Exception {
        TestDevice d = new TestDevice(1 << 20, Set.of());
        try (SimRig rig = new SimRig(dir, d, FrontendOptions.defaults(), DataPath.COPY);
             GuestBuffer b = rig.front.allocateBuffer(1)) {
            int ref = rig.guest.grant(b.frame(0), 0, false);
            MemorySegment hostile = MemorySegment.ofArray(new byte[112]);
            hostile.fill((byte) 0xff);
            for (int i = 0; i < 200; i++) {
                BlkifRequest good = rw(Blkif.OP_READ, 0, 1).segment(0, ref, 0, 7);
                long id = good.id;
                // The response goes into the same ring slot: a read the backend took before the rewrite must
                // not be answered until the rewrite is done, or the rewrite would clobber its response (what
                // a hostile guest does to itself; the emulated blkfront then disables the disk, as Linux's).
                d.hold(true);
                CompletableFuture<BlkifResponse> answered = rig.front.submitRaw(0, good, e -> {
                    // Keep the id, make everything else hostile: the backend sees either version whole.
                    MemorySegment copy = MemorySegment.ofArray(new byte[112]);
                    MemorySegment.copy(hostile, 0, copy, 0, 112);
                    copy.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 8, id);
                    e.write(copy);
                });
                d.releaseHeld();
                BlkifResponse rsp = get(answered);
                assertEquals(id, rsp.id());
                if (rsp.operation() == Blkif.OP_READ) {
                    assertEquals(Blkif.RSP_OKAY, rsp.status());
                } else {
                    assertEquals(0xff, rsp.operation());
                    assertEquals(Blkif.RSP_EOPNOTSUPP, rsp.status());
                }
            }
            stillServes(rig);
        }
    }

    @Test
    void unsafeMapNeedsExplicitConsent() {
        TestDevice d = new TestDevice(1 << 20, Set.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BackendSpec.builder(new io.tapdisk4j.ring.hv.sim.SimHypervisor(dir), 1, d)
                        .queue(new int[]{8}, 1).dataPath(DataPath.UNSAFE_MAP).build());
        assertTrue(e.getMessage().contains("allowUnsafe"));
        assertEquals(-8, GrantStatus.PERMISSION_DENIED);
    }
}
