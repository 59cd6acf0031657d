package io.tapdisk4j.safety.race;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.ring.backend.BackendSpec;
import io.tapdisk4j.ring.backend.BlkifBackend;
import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.frontend.BlkfrontEmulator;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.hv.sim.SimHypervisor;
import io.tapdisk4j.safety.report.SafetyReport;
import io.tapdisk4j.safety.report.Tally;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The race on purpose, through the ring server and the emulated blkfront, in every data path, on a file
 * device: the guest writes pattern A from page P; on completion it at once writes pattern B into P for
 * another request; then a late consumer (the model of a retransmission queued before completion) reads
 * the buffer it was handed for the first request again and sends it to storage. Storage must hold what
 * the guest wrote when each request was issued. Reported as backend "file" (local storage; a memory device).
 *
 * <p>copy, map-copy and persistent: no corruption in any trial. unsafe-map: the suite must see the race
 * (corruption or use after unmap), or it fails: a suite that cannot see the bug is a failed suite.
 */
class RingRaceTest {

    static final int DISK_MIB = 64;
    static final int MAX_PAGES = 8;

    @TempDir
    Path dir; // the simulated hypervisor's directory

    @ParameterizedTest
    @EnumSource(DataPath.class)
    void guestReusesItsPageRightAfterCompletion(DataPath path) throws Exception {
        Tally tally = SafetyReport.tally("file", path.cliName());
        SplittableRandom r = new SplittableRandom(tally.seed());
        int trials = SafetyReport.trials();
        boolean persistent = path == DataPath.PERSISTENT;
        // A memory device: FileDevice cannot write the composite buffer of mapped pages unsafe-map hands it
        // (heap segment refused by pwrite), and every data path must meet the same storage.
        LateConsumerDevice device = new LateConsumerDevice(BlockDevices.loadDefault().open("memory:?size=" + DISK_MIB + "M"));
        FrontendOptions options = FrontendOptions.defaults().withQueues(2).withRingOrder(1).withPersistent(persistent);
        String firstFailure = null;
        try (SimHypervisor hv = new SimHypervisor(dir);
             SimGuest guest = SimGuest.create(dir, 1, 4096, 16384);
             BlkfrontEmulator front = BlkfrontEmulator.create(guest, options)) {
            BlkifBackend backend = BlkifBackend.start(BackendSpec.builder(hv, 1, device).name("race-" + path.cliName())
                    .queues(front.queueSpecs()).dataPath(path).frontendPersistent(persistent)
                    .allowUnsafe(path == DataPath.UNSAFE_MAP).build());
            try {
                assertEquals(path, backend.dataPath());
                for (int t = 0; t < trials; t++) {
                    String failure = trial(front, device, r, t, tally);
                    if (failure != null && firstFailure == null) {
                        firstFailure = failure;
                    }
                }
            } finally {
                backend.close();
                device.close();
            }
        }
        System.out.println("[safety] ring race " + tally + (firstFailure == null ? "" : "; first: " + firstFailure));
        if (path == DataPath.UNSAFE_MAP) {
            assertTrue(tally.sawRace(), "unsafe-map showed neither corruption nor a use after unmap in " + trials
                    + " trials (seed " + tally.seed() + "): this suite cannot see the race");
        } else {
            assertEquals(0, tally.corruptions(), path.cliName() + " corrupted data (seed " + tally.seed() + "): " + firstFailure);
            assertEquals(0, tally.useAfterUnmapCount(), path.cliName() + " used an unmapped page (seed " + tally.seed()
                    + "): " + firstFailure);
        }
    }

    /** One trial; returns a description of what went wrong, or null. */
    private static String trial(BlkfrontEmulator front, LateConsumerDevice device, SplittableRandom r, int t, Tally tally)
            throws Exception {
        int pages = 1 + r.nextInt(MAX_PAGES);
        int offset = r.nextInt(pages * 8) * 512;                       // sector-aligned start inside P
        int length = (1 + r.nextInt(pages * 8 - offset / 512)) * 512;  // up to the end of P
        long regionSectors = ((long) DISK_MIB << 20) / 512 / 2;
        long sectorA = r.nextLong(regionSectors - length / 512);       // first half of the disk
        long sectorB = regionSectors + r.nextLong(regionSectors - length / 512); // second half: never overlaps A
        byte[] a = new byte[length];
        byte[] b = new byte[length];
        r.nextBytes(a);
        r.nextBytes(b);
        a[0] = 'A';
        b[0] = 'B'; // never identical
        int queue = r.nextInt(front.queueCount());
        tally.trial();
        try (GuestBuffer page = front.allocateBuffer(pages)) {
            page.put(offset, a);
            BlkifResponse first = front.write(queue, sectorA, page, offset, length).get(30, TimeUnit.SECONDS);
            if (!first.ok()) {
                throw new AssertionError("trial " + t + ": write A failed with status " + first.status());
            }
            page.put(offset, b); // the guest reuses P at once, for another request
            BlkifResponse second = front.write(r.nextInt(front.queueCount()), sectorB, page, offset, length)
                    .get(30, TimeUnit.SECONDS);
            if (!second.ok()) {
                throw new AssertionError("trial " + t + ": write B failed with status " + second.status());
            }
        }
        String failure = null;
        List<LateConsumerDevice.Replay> replays = device.replayLate();
        tally.faults(replays.size()); // each late replay is one stale retransmission injected
        for (LateConsumerDevice.Replay rep : replays) {
            if (rep.useAfterUnmap()) {
                tally.useAfterUnmap();
                failure = "trial " + t + ": late consumer touched an unmapped page: " + rep.error();
            }
        }
        BlockDevice storage = device.inner();
        if (!Arrays.equals(a, stored(storage, sectorA, length))) {
            tally.corruption();
            failure = "trial " + t + ": sector " + sectorA + " does not hold what the guest wrote when it issued the"
                    + " request (" + pages + " pages, offset " + offset + ", " + length + " bytes)";
        }
        if (!Arrays.equals(b, stored(storage, sectorB, length))) {
            tally.corruption();
            failure = "trial " + t + ": sector " + sectorB + " does not hold the second write";
        }
        tally.verified(2L * length);
        return failure;
    }

    static byte[] stored(BlockDevice d, long sector, int length) throws Exception {
        ByteBuf data = d.read(sector * 512, length).get(30, TimeUnit.SECONDS);
        try {
            return ByteBufUtil.getBytes(data);
        } finally {
            data.release();
        }
    }
}
