package io.tapdisk4j.ring.xenbus;

import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.backend.QueueSpec;
import io.tapdisk4j.ring.frontend.BlkfrontEmulator;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Frontends that lie: each ends with its own device in Closing and a blkback-style message under its
 * backend's error node, while a well-behaved guest on the same tapback keeps doing I/O.
 */
class XenbusHostileFrontendTest {

    @TempDir
    static Path dir;
    private static XenbusRig rig;
    private static BlkfrontXenbus good;
    private static int nextDomid = 10;

    @BeforeAll
    static void start() throws Exception {
        rig = new XenbusRig(dir, DataPath.COPY);
        VbdId id = new VbdId(1, 768);
        Toolstack.createVbd(rig.xs, id, "file://" + XenbusHandshakeTest.disk(dir, "good.raw", 4), false);
        good = rig.keep(BlkfrontXenbus.connect(rig.xs, rig.guest(1), id, FrontendOptions.defaults(),
                XenbusRig.TIMEOUT));
    }

    @AfterAll
    static void stop() throws Exception {
        rig.close();
    }

    private static void goodGuestStillWorks() throws Exception {
        XenbusHandshakeTest.roundTrip(good.emulator(), 64, 16384, (byte) nextDomid);
        assertEquals("connected", rig.tapback.device(1, 768).orElseThrow().phase());
    }

    /**
     * A guest whose frontend publishes valid rings except for {@code overrides} (null removes a key), then
     * says Initialised; returns the backend's error node once it reaches Closing.
     */
    private static String hostile(FrontendOptions options, Map<String, String> overrides) throws Exception {
        int domid = nextDomid++;
        VbdId id = new VbdId(domid, 768);
        Toolstack.createVbd(rig.xs, id, "file://" + XenbusHandshakeTest.disk(dir, "d" + domid + ".raw", 1), false);
        rig.awaitState(id, XenbusState.INIT_WAIT);
        SimGuest guest = rig.guest(domid);
        BlkfrontEmulator front = rig.keep(BlkfrontEmulator.create(guest, options));
        Map<String, String> keys = new LinkedHashMap<>();
        List<QueueSpec> qs = front.queueSpecs();
        if (options.ringOrder() > 0) {
            keys.put("ring-page-order", Integer.toString(options.ringOrder()));
        }
        if (qs.size() > 1) {
            keys.put("multi-queue-num-queues", Integer.toString(qs.size()));
        }
        for (int q = 0; q < qs.size(); q++) {
            String prefix = qs.size() == 1 ? "" : "queue-" + q + "/";
            int[] refs = qs.get(q).ringRefs();
            for (int i = 0; i < refs.length; i++) {
                keys.put(prefix + (options.ringOrder() == 0 ? "ring-ref" : "ring-ref" + i), Integer.toString(refs[i]));
            }
            keys.put(prefix + "event-channel", Integer.toString(qs.get(q).eventChannelPort()));
        }
        keys.put("protocol", options.abi().protocol());
        overrides.forEach((k, v) -> {
            if (v == null) {
                keys.remove(k);
            } else {
                keys.put(k, v);
            }
        });
        String fe = id.frontendPath();
        rig.xs.transaction(tx -> {
            for (Map.Entry<String, String> k : keys.entrySet()) {
                tx.write(fe + "/" + k.getKey(), k.getValue());
            }
            tx.write(fe + "/state", XenbusState.INITIALISED.value());
            return null;
        });
        rig.awaitState(id, XenbusState.CLOSING);
        String error = rig.xs.read(id.backendPath() + "/error");
        assertEquals(error, rig.xs.read("/local/domain/0/error/backend/vbd3/" + domid + "/768/error"));
        VbdInfo info = rig.tapback.device(domid, 768).orElseThrow();
        assertEquals("failed", info.phase());
        assertEquals(error, info.error());
        goodGuestStillWorks();
        return error;
    }

    private static String fe(int domidOffset) {
        return "/local/domain/" + (nextDomid - 1 + domidOffset) + "/device/vbd/768";
    }

    @Test
    void garbageRingRef() throws Exception {
        String e = hostile(FrontendOptions.defaults(), Map.of("ring-ref", "0x12zz"));
        assertEquals("22 reading " + fe(0) + "/ring-ref", e);
    }

    @Test
    void missingRingRef() throws Exception {
        String e = hostile(FrontendOptions.defaults(), java.util.Collections.singletonMap("ring-ref", null));
        assertEquals("22 reading " + fe(0) + "/ring-ref", e);
    }

    @Test
    void garbageEventChannel() throws Exception {
        String e = hostile(FrontendOptions.defaults(), Map.of("event-channel", "-1"));
        assertEquals("22 reading " + fe(0) + "/event-channel", e);
    }

    @Test
    void unknownProtocol() throws Exception {
        String e = hostile(FrontendOptions.defaults(), Map.of("protocol", "x86_128-abi"));
        assertEquals("22 unknown fe protocol x86_128-abi", e);
    }

    @Test
    void ringPageOrderBeyondTheMaximum() throws Exception {
        String e = hostile(FrontendOptions.defaults(), Map.of("ring-page-order", "9"));
        assertEquals("22 " + fe(0) + "/request 9 ring page order exceed max:4", e);
    }

    @Test
    void queuesBeyondTheMaximum() throws Exception {
        String e = hostile(FrontendOptions.defaults(), Map.of("multi-queue-num-queues", "64"));
        assertEquals("22 guest requested 64 queues, exceeding the maximum of 16.", e);
    }

    @Test
    void ringRefThatWasNeverGranted() throws Exception {
        String e = hostile(FrontendOptions.defaults(), Map.of("ring-ref", "5")); // a reserved, never granted ref
        assertTrue(e.startsWith("22 mapping ring-ref [[5]] port "), e);
    }

    @Test
    void eventChannelNobodyAllocated() throws Exception {
        String e = hostile(FrontendOptions.defaults(), Map.of("event-channel", "999"));
        assertTrue(e.startsWith("22 mapping ring-ref ") && e.contains("port [999]"), e);
    }

    @Test
    void paramsThatCannotBeOpened() throws Exception {
        int domid = nextDomid++;
        VbdId id = new VbdId(domid, 768);
        Toolstack.createVbd(rig.xs, id, "file://" + dir.resolve("no-such-disk.raw"), false);
        rig.awaitState(id, XenbusState.CLOSING);
        String e = rig.xs.read(id.backendPath() + "/error");
        assertTrue(e.matches("\\d+ opening file://.*no-such-disk\\.raw: .*"), e);
        Toolstack.createVbd(rig.xs, new VbdId(domid, 832), "nosuchscheme:whatever", false);
        rig.awaitState(new VbdId(domid, 832), XenbusState.CLOSING);
        assertTrue(rig.xs.read(new VbdId(domid, 832).backendPath() + "/error").contains("nosuchscheme"));
        goodGuestStillWorks();
    }

    @Test
    void frontendVanishingMidIoIsClosedWithinTheDrainTime() throws Exception {
        int domid = nextDomid++;
        VbdId id = new VbdId(domid, 768);
        Toolstack.createVbd(rig.xs, id, "file://" + XenbusHandshakeTest.disk(dir, "v.raw", 8), false);
        SimGuest guest = SimGuest.create(dir, domid, 2048, 8192);
        BlkfrontXenbus f = BlkfrontXenbus.connect(rig.xs, guest, id, new FrontendOptions(2, 1, 
                io.tapdisk4j.ring.blkif.Abi.X86_64, false, 256), XenbusRig.TIMEOUT);
        List<CompletableFuture<BlkifResponse>> inFlight = new ArrayList<>();
        List<GuestBuffer> buffers = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            GuestBuffer b = f.emulator().allocateBuffer(16);
            buffers.add(b);
            inFlight.add(f.emulator().write(i % 2, (long) i * 128, b, 0, 65536));
        }
        // The guest dies: its rings, ports and memory go away, then the toolstack removes its frontend.
        f.close();
        guest.close();
        rig.xs.rm(id.frontendPath());
        rig.awaitState(id, XenbusState.CLOSED);
        assertEquals("closed", rig.tapback.device(domid, 768).orElseThrow().phase());
        assertEquals(0, rig.tapback.device(domid, 768).orElseThrow().total().inFlight());
        goodGuestStillWorks();
        Toolstack.removeVbd(rig.xs, id);
        goodGuestStillWorks();
    }

    @Test
    void aFailedDeviceRecoversWhenItsFrontendStartsOver() throws Exception {
        hostile(FrontendOptions.defaults(), Map.of("protocol", "bogus"));
        VbdId id = new VbdId(nextDomid - 1, 768);
        String fe = id.frontendPath();
        rig.xs.write(fe + "/state", XenbusState.CLOSED.value());
        rig.awaitState(id, XenbusState.CLOSED);
        rig.xs.write(fe + "/protocol", "x86_64-abi");
        rig.xs.write(fe + "/state", XenbusState.INITIALISING.value());
        rig.awaitState(id, XenbusState.INIT_WAIT);
        assertTrue(rig.xs.readOptional(id.backendPath() + "/error").isEmpty());
        rig.xs.write(fe + "/state", XenbusState.INITIALISED.value());
        rig.awaitState(id, XenbusState.CONNECTED);
        goodGuestStillWorks();
    }
}
