package io.tapdisk4j.safety.hostile;

import io.netty.buffer.ByteBuf;
import io.netty.util.concurrent.EventExecutor;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.ring.backend.BackendSpec;
import io.tapdisk4j.ring.backend.BlkifBackend;
import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.blkif.BlkifCodec;
import io.tapdisk4j.ring.blkif.BlkifRequest;
import io.tapdisk4j.ring.frontend.BlkfrontEmulator;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.hv.sim.SimHypervisor;
import io.tapdisk4j.safety.report.SafetyReport;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A hostile guest (domain 1) fuzzes the ring server for a fixed budget of seeded requests (bad grant refs,
 * wrong domids, revoked and read-only grants, out-of-range sectors, segment bounds, indirect page abuse,
 * unknown operations, grants revoked mid-request, requests rewritten while being processed), against a
 * device whose reads misbehave with dom0 memory full of a canary pattern, while pooled dom0 memory is
 * poisoned with the canary too. Throughout: every request is answered, the backend keeps serving, no guest
 * page ever receives the canary; another guest (domain 2) keeps its data. Finally the attacker overruns
 * its ring: its device is shut down, and the other guest still works.
 */
class HostileGuestFuzzTest {

    static final long CANARY = CanaryDevice.CANARY;
    static final byte GUEST_FILL = 0x11;

    @TempDir
    Path dir;

    private long ids = 1L << 40;

    @ParameterizedTest
    @EnumSource(DataPath.class)
    void hostileGuestCannotHurtDom0OrItsNeighbour(DataPath path) throws Exception {
        long seed = SafetyReport.seedFor("hostile-guest/" + path.cliName());
        SplittableRandom r = new SplittableRandom(seed);
        int budget = Math.max(100, SafetyReport.trials() / 2);
        boolean persistent = path == DataPath.PERSISTENT;
        BlockDevices devices = BlockDevices.loadDefault();
        CanaryDevice attackerDisk = new CanaryDevice(devices.open("memory:?size=16M"), seed);
        int[] kinds = new int[12];
        try (SimHypervisor hv = new SimHypervisor(dir);
             SimGuest attacker = SimGuest.create(dir, 1, 8192, 1 << 17);
             SimGuest victim = SimGuest.create(dir, 2, 2048, 4096);
             BlkfrontEmulator evil = BlkfrontEmulator.create(attacker,
                     FrontendOptions.defaults().withQueues(2).withPersistent(persistent));
             BlkfrontEmulator good = BlkfrontEmulator.create(victim, FrontendOptions.defaults().withPersistent(persistent));
             var victimDisk = devices.open("memory:?size=16M")) {
            BlkifBackend evilBackend = start(hv, 1, evil, attackerDisk, path);
            BlkifBackend goodBackend = start(hv, 2, good, victimDisk, path);
            try {
                byte[] victimData = new byte[1 << 20];
                new SplittableRandom(seed + 1).nextBytes(victimData);
                try (GuestBuffer b = good.allocateBuffer(256)) {
                    b.put(0, victimData);
                    assertTrue(good.write(0, 0, b, 0, victimData.length).get(30, TimeUnit.SECONDS).ok());
                }
                for (int i = 0; i < budget; i++) {
                    if (i % 50 == 0) {
                        poisonPools();
                    }
                    int kind = r.nextInt(kinds.length);
                    kinds[kind]++;
                    try {
                        hostile(kind, r, attacker, evil, attackerDisk);
                    } catch (Exception | AssertionError e) {
                        throw new AssertionError(path.cliName() + ": hostile request " + i + " of kind " + kind
                                + " (seed " + seed + ", replay with -Dsafety.seed=" + SafetyReport.seed() + ")", e);
                    }
                    if (i % 50 == 49) {
                        victimStillServes(good, victimData);
                    }
                }
                // The ring overrun: req_prod more than a ring ahead on the attacker's untouched second queue.
                evil.forceReqProd(1, evil.ringSize() * 2 + 7);
                String reason = evilBackend.shutdown().get(30, TimeUnit.SECONDS);
                assertTrue(reason != null && !reason.isEmpty());
                victimStillServes(good, victimData);
                System.out.println("[safety] hostile guest " + path.cliName() + ": " + budget + " requests by kind "
                        + Arrays.toString(kinds) + "; no canary in guest pages, neighbour intact, overrun -> shutdown ("
                        + reason + ") (seed " + seed + ")");
            } finally {
                evilBackend.close();
                goodBackend.close();
                attackerDisk.close();
            }
        }
    }

    /** The check has teeth: the canary device's dom0 buffers hold the canary, and the scan finds it. */
    @org.junit.jupiter.api.Test
    void canaryScanSeesDom0Memory() throws Exception {
        try (CanaryDevice d = new CanaryDevice(BlockDevices.loadDefault().open("memory:?size=1M"), 7)) {
            boolean sawShort = false;
            for (int i = 0; i < 200 && !sawShort; i++) {
                try {
                    ByteBuf b = d.read(0, 4096).get(10, TimeUnit.SECONDS);
                    try {
                        if (b.readableBytes() < 4096) {
                            sawShort = true;
                            MemorySegment page = MemorySegment.ofArray(new byte[4096]);
                            b.getBytes(0, page.asByteBuffer()); // what a backend copying the capacity would leak
                            assertTrue(hasCanary(page));
                        }
                    } finally {
                        b.release();
                    }
                } catch (java.util.concurrent.ExecutionException injected) {
                    // an injected read error
                }
            }
            assertTrue(sawShort, "the canary device never returned a short read");
            assertTrue(!hasCanary(MemorySegment.ofArray(new byte[4096])));
        }
    }

    private static BlkifBackend start(SimHypervisor hv, int domid, BlkfrontEmulator front,
                                      io.tapdisk4j.block.BlockDevice device, DataPath path) throws Exception {
        return BlkifBackend.start(BackendSpec.builder(hv, domid, device).name("hostile-dom" + domid)
                .queues(front.queueSpecs()).dataPath(path).frontendPersistent(path == DataPath.PERSISTENT)
                .allowUnsafe(path == DataPath.UNSAFE_MAP).build());
    }

    /** Fills freshly pooled dom0 memory on every shared event-loop thread with the canary, then frees it. */
    private static void poisonPools() throws Exception {
        List<CompletableFuture<Void>> done = new ArrayList<>();
        for (EventExecutor e : EventLoops.shared()) {
            CompletableFuture<Void> f = new CompletableFuture<>();
            e.execute(() -> {
                List<ByteBuf> bufs = new ArrayList<>();
                for (int size = 512; size <= (1 << 20); size <<= 1) {
                    bufs.add(CanaryDevice.canary(size));
                    bufs.add(CanaryDevice.canary(size));
                }
                bufs.forEach(ByteBuf::release);
                f.complete(null);
            });
            done.add(f);
        }
        CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
    }

    private static void victimStillServes(BlkfrontEmulator good, byte[] data) throws Exception {
        try (GuestBuffer b = good.allocateBuffer(256)) {
            b.fill((byte) 0);
            BlkifResponse rsp = good.read(0, 0, b, 0, data.length).get(30, TimeUnit.SECONDS);
            assertTrue(rsp.ok(), "the other guest's read failed: " + rsp);
            assertArrayEquals(data, b.get(0, data.length), "the other guest's data changed");
        }
    }

    /** The canary as ByteBuf.setLong wrote it: big-endian. */
    private static final ValueLayout.OfLong CANARY_WORD = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);

    /** True when any 8-aligned word of the page is the canary. */
    static boolean hasCanary(MemorySegment page) {
        for (long o = 0; o < page.byteSize(); o += 8) {
            if (page.get(CANARY_WORD, o) == CANARY) {
                return true;
            }
        }
        return false;
    }

    private static void assertNoCanary(SimGuest g, int[] frames, String what) {
        for (int f : frames) {
            if (f >= 0 && f < g.frames()) {
                assertTrue(!hasCanary(g.frame(f)), "dom0 memory (canary) reached guest frame " + f + " after " + what);
            }
        }
    }

    private BlkifRequest request(int op, long sector, int nseg) {
        BlkifRequest q = new BlkifRequest(0);
        q.operation = op;
        q.nrSegments = nseg;
        q.id = ids++;
        q.sectorNumber = sector;
        return q;
    }

    private static BlkifResponse get(CompletableFuture<BlkifResponse> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }

    private static void expectError(BlkifResponse rsp, String what) {
        assertNotEquals(Blkif.RSP_OKAY, rsp.status(), what + " succeeded");
    }

    /** One hostile request of {@code kind}. */
    private void hostile(int kind, SplittableRandom r, SimGuest g, BlkfrontEmulator front, CanaryDevice disk)
            throws Exception {
        int n = 1 + r.nextInt(4);
        int[] frames = new int[n];
        int[] refs = new int[n];
        Arrays.fill(refs, -1);
        for (int i = 0; i < n; i++) {
            frames[i] = g.allocateFrame();
            g.frame(frames[i]).fill(GUEST_FILL);
        }
        long sectors = disk.size() / 512;
        long sector = r.nextLong(sectors - n * 8L);
        try {
            switch (kind) {
                case 0 -> { // a valid read from a misbehaving device: success or error, never the canary
                    grantAll(g, frames, refs, false);
                    BlkifRequest q = request(Blkif.OP_READ, sector, n);
                    for (int i = 0; i < n; i++) {
                        q.segment(i, refs[i], 0, 7);
                    }
                    get(front.submitRaw(0, q));
                }
                case 1 -> { // grant references beyond the table
                    BlkifRequest q = request(r.nextBoolean() ? Blkif.OP_READ : Blkif.OP_WRITE, sector, n);
                    for (int i = 0; i < n; i++) {
                        q.segment(i, g.grantEntries() + r.nextInt(1 << 20), 0, 7);
                    }
                    expectError(get(front.submitRaw(0, q)), "bad grant ref");
                }
                case 2 -> { // grants to another domain
                    for (int i = 0; i < n; i++) {
                        refs[i] = g.allocateRef();
                        g.writeEntry(refs[i], frames[i], 3 + r.nextInt(100), io.tapdisk4j.ring.hv.GrantStatus.GTF_PERMIT_ACCESS);
                    }
                    BlkifRequest q = request(r.nextBoolean() ? Blkif.OP_READ : Blkif.OP_WRITE, sector, n);
                    for (int i = 0; i < n; i++) {
                        q.segment(i, refs[i], 0, 7);
                    }
                    expectError(get(front.submitRaw(0, q)), "grant for another domain");
                }
                case 3 -> { // revoked grants
                    grantAll(g, frames, refs, false);
                    for (int ref : refs) {
                        g.revoke(ref);
                    }
                    BlkifRequest q = request(r.nextBoolean() ? Blkif.OP_READ : Blkif.OP_WRITE, sector, n);
                    for (int i = 0; i < n; i++) {
                        q.segment(i, refs[i], 0, 7);
                    }
                    expectError(get(front.submitRaw(0, q)), "revoked grant");
                }
                case 4 -> { // read-only grants for a READ (the backend would write into them)
                    grantAll(g, frames, refs, true);
                    BlkifRequest q = request(Blkif.OP_READ, sector, n);
                    for (int i = 0; i < n; i++) {
                        q.segment(i, refs[i], 0, 7);
                    }
                    expectError(get(front.submitRaw(0, q)), "READ into read-only grants");
                    for (int f : frames) {
                        assertEquals(GUEST_FILL, g.frame(f).get(ValueLayout.JAVA_BYTE, r.nextInt(4096)),
                                "backend wrote into a read-only grant");
                    }
                }
                case 5 -> { // sectors beyond the end, or overflowing
                    grantAll(g, frames, refs, false);
                    long bad = switch (r.nextInt(3)) {
                        case 0 -> sectors - r.nextInt(n * 8);
                        case 1 -> Long.MAX_VALUE / 512 - r.nextInt(16);
                        default -> -1L - r.nextInt(1000);
                    };
                    BlkifRequest q = request(r.nextBoolean() ? Blkif.OP_READ : Blkif.OP_WRITE, bad, n);
                    for (int i = 0; i < n; i++) {
                        q.segment(i, refs[i], 0, 7);
                    }
                    expectError(get(front.submitRaw(0, q)), "out-of-range sector " + bad);
                }
                case 6 -> { // segment bounds: first > last, last beyond the page, 0 or too many segments
                    grantAll(g, frames, refs, false);
                    int variant = r.nextInt(3);
                    int nseg = variant == 2 ? (r.nextBoolean() ? 0 : 12 + r.nextInt(244)) : n;
                    BlkifRequest q = request(r.nextBoolean() ? Blkif.OP_READ : Blkif.OP_WRITE, sector, nseg);
                    for (int i = 0; i < Math.min(nseg, 11); i++) {
                        int ref = refs[i % n];
                        if (variant == 0) {
                            q.segment(i, ref, 1 + r.nextInt(7), 0);
                        } else if (variant == 1) {
                            q.segment(i, ref, 0, 8 + r.nextInt(248));
                        } else {
                            q.segment(i, ref, 0, 7);
                        }
                    }
                    expectError(get(front.submitRaw(0, q)), "segment bounds variant " + variant + " nseg " + nseg);
                }
                case 7 -> { // indirect abuse
                    grantAll(g, frames, refs, false);
                    int ind = g.allocateFrame();
                    try {
                        int indRef = g.grant(ind, 0, true);
                        int variant = r.nextInt(4);
                        int nseg = 1 + r.nextInt(20);
                        BlkifRequest segs = new BlkifRequest(nseg);
                        for (int i = 0; i < nseg; i++) {
                            boolean bad = variant == 0 && i == nseg - 1;
                            segs.segment(i, bad ? g.grantEntries() + 5 : refs[i % n], 0, bad ? 7 : 7);
                        }
                        if (variant == 0 && r.nextBoolean()) {
                            segs.segment(nseg - 1, refs[0], 5, 2); // bad bounds instead of a bad ref
                        }
                        BlkifCodec.encodeSegments(g.frame(ind), 0, segs, 0, nseg);
                        BlkifRequest q = request(Blkif.OP_INDIRECT, sector, nseg);
                        q.indirectOp = variant == 1 ? (r.nextBoolean() ? Blkif.OP_INDIRECT : Blkif.OP_DISCARD) : Blkif.OP_READ;
                        if (variant == 2) {
                            q.nrSegments = 257 + r.nextInt(65535 - 257);
                        }
                        Arrays.fill(q.indirectGrefs, variant == 3 ? g.grantEntries() + 9 : indRef);
                        expectError(get(front.submitRaw(0, q)), "indirect abuse variant " + variant);
                        g.release(indRef);
                    } finally {
                        assertTrue(!hasCanary(g.frame(ind)));
                        g.freeFrame(ind);
                    }
                }
                case 8 -> { // unknown operations
                    grantAll(g, frames, refs, false);
                    int op = r.nextBoolean() ? Blkif.OP_RESERVED_1 : 7 + r.nextInt(249);
                    BlkifRequest q = request(op, sector, n);
                    for (int i = 0; i < n; i++) {
                        q.segment(i, refs[i], 0, 7);
                    }
                    expectError(get(front.submitRaw(0, q)), "operation " + op);
                }
                case 9 -> { // grants revoked right after the request is published
                    grantAll(g, frames, refs, false);
                    BlkifRequest q = request(r.nextBoolean() ? Blkif.OP_READ : Blkif.OP_WRITE, sector, n);
                    for (int i = 0; i < n; i++) {
                        q.segment(i, refs[i], 0, 7);
                    }
                    CompletableFuture<BlkifResponse> f = front.submitRaw(0, q);
                    for (int ref : refs) {
                        g.revoke(ref);
                    }
                    get(f); // either outcome is fine: answered, and no canary
                }
                case 10 -> { // the request rewritten in the ring while the backend may be taking it
                    grantAll(g, frames, refs, false);
                    BlkifRequest q = request(Blkif.OP_READ, sector, n);
                    for (int i = 0; i < n; i++) {
                        q.segment(i, refs[i], 0, 7);
                    }
                    byte[] garbage = new byte[112];
                    r.nextBytes(garbage);
                    MemorySegment g2 = MemorySegment.ofArray(garbage);
                    // keep the id so the response can still be matched; everything else is garbage
                    g2.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN
                            ? q.id : Long.reverseBytes(q.id));
                    get(front.submitRaw(0, q, entry -> entry.write(g2)));
                }
                default -> { // a valid write and read back while the device behaves: the backend still serves
                    disk.misbehave(false);
                    try {
                        grantAll(g, frames, refs, false);
                        byte[] data = new byte[n * 4096];
                        r.nextBytes(data);
                        for (int i = 0; i < n; i++) {
                            MemorySegment.copy(MemorySegment.ofArray(data), i * 4096L, g.frame(frames[i]), 0, 4096);
                        }
                        BlkifRequest w = request(Blkif.OP_WRITE, sector, n);
                        for (int i = 0; i < n; i++) {
                            w.segment(i, refs[i], 0, 7);
                        }
                        assertEquals(Blkif.RSP_OKAY, get(front.submitRaw(0, w)).status(), "valid write");
                        for (int f : frames) {
                            g.frame(f).fill((byte) 0);
                        }
                        BlkifRequest rd = request(Blkif.OP_READ, sector, n);
                        for (int i = 0; i < n; i++) {
                            rd.segment(i, refs[i], 0, 7);
                        }
                        assertEquals(Blkif.RSP_OKAY, get(front.submitRaw(0, rd)).status(), "valid read");
                        for (int i = 0; i < n; i++) {
                            byte[] back = g.frame(frames[i]).toArray(ValueLayout.JAVA_BYTE);
                            assertArrayEquals(Arrays.copyOfRange(data, i * 4096, (i + 1) * 4096), back, "read back");
                        }
                    } finally {
                        disk.misbehave(true);
                    }
                }
            }
            assertNoCanary(g, frames, "request kind " + kind);
        } finally {
            for (int ref : refs) {
                if (ref >= 0) {
                    g.revoke(ref); // never back to the free list: a persistent-grant backend may still map it
                }
            }
            for (int f : frames) {
                g.freeFrame(f);
            }
        }
    }

    private static void grantAll(SimGuest g, int[] frames, int[] refs, boolean readOnly) {
        for (int i = 0; i < frames.length; i++) {
            refs[i] = g.grant(frames[i], 0, readOnly);
        }
    }
}
