package io.tapdisk4j.safety.race;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.ring.backend.BackendSpec;
import io.tapdisk4j.ring.backend.BlkifBackend;
import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.frontend.BlkfrontEmulator;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.hv.sim.SimHypervisor;
import io.tapdisk4j.safety.report.Tally;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One emulated guest attached through the ring server (in a given data path) to a storage device wrapped
 * in a {@link LateConsumerDevice}, and the race trial: write A from page P, complete, reuse P at once for
 * write B elsewhere, replay late, compare storage with what the guest wrote when it issued each request.
 */
final class RaceRig implements AutoCloseable {

    /** What the guest issues in one trial: pattern A to sector A, then (from the same page) B to sector B. */
    record Issued(long sectorA, byte[] a, long sectorB, byte[] b) {
        int length() {
            return a.length;
        }
    }

    /** Network faults around a trial's first write (no-ops for local storage). */
    interface Faults {
        Faults NONE = new Faults() {
        };

        /** Before write A is issued: arm the proxy. */
        default void beforeFirstWrite(Issued issued) throws Exception {
        }

        /** While write A is in flight (its future not awaited yet): hold, cut, wait for the reissue. */
        default void whileFirstWriteInFlight(CompletableFuture<BlkifResponse> first) throws Exception {
        }

        /** After the guest's reuse of P completed: release the stale transmission, await the server. */
        default void afterReuse() throws Exception {
        }

        /**
         * Whether the late consumer replays this trial's writes. A scenario that must show only what the
         * network path itself does with a stale message turns it off for its trials.
         */
        default boolean lateReplay() {
            return true;
        }
    }

    /** Faults that differ per trial: {@code pick} names the scenario of trial n (from 0), or {@link Faults#NONE}. */
    static Faults choose(java.util.function.IntFunction<Faults> pick) {
        return new Faults() {
            int trial;
            Faults current = NONE;

            @Override
            public void beforeFirstWrite(Issued issued) throws Exception {
                current = pick.apply(trial++);
                current.beforeFirstWrite(issued);
            }

            @Override
            public void whileFirstWriteInFlight(CompletableFuture<BlkifResponse> first) throws Exception {
                current.whileFirstWriteInFlight(first);
            }

            @Override
            public void afterReuse() throws Exception {
                current.afterReuse();
            }

            @Override
            public boolean lateReplay() {
                return current.lateReplay();
            }
        };
    }

    final DataPath path;
    final LateConsumerDevice device;
    private final SimHypervisor hv;
    private final SimGuest guest;
    final BlkfrontEmulator front;
    private final BlkifBackend backend;
    final long diskBytes;

    /**
     * {@code diskBytes}: the part of the storage trials write to (from 0); storage beyond it is free for
     * a scenario's own traffic.
     */
    RaceRig(Path dir, DataPath path, BlockDevice storage, long diskBytes) throws Exception {
        this.path = path;
        this.diskBytes = diskBytes;
        this.device = new LateConsumerDevice(storage);
        boolean persistent = path == DataPath.PERSISTENT;
        hv = new SimHypervisor(dir);
        guest = SimGuest.create(dir, 1, 4096, 16384);
        front = BlkfrontEmulator.create(guest,
                FrontendOptions.defaults().withQueues(2).withRingOrder(1).withPersistent(persistent));
        backend = BlkifBackend.start(BackendSpec.builder(hv, 1, device).name("race-" + path.cliName())
                .queues(front.queueSpecs()).dataPath(path).frontendPersistent(persistent)
                .allowUnsafe(path == DataPath.UNSAFE_MAP).build());
        if (backend.dataPath() != path) {
            throw new AssertionError("backend runs " + backend.dataPath() + ", not " + path);
        }
    }

    /** One trial; returns what went wrong, or null. */
    String trial(SplittableRandom r, int t, Tally tally, int maxPages, Faults faults) throws Exception {
        int pages = 1 + r.nextInt(maxPages);
        int offset = r.nextInt(pages * 8) * 512;                       // sector-aligned start inside P
        int length = (1 + r.nextInt(pages * 8 - offset / 512)) * 512;  // up to the end of P
        long regionSectors = diskBytes / 512 / 2;
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
            faults.beforeFirstWrite(new Issued(sectorA, a, sectorB, b));
            CompletableFuture<BlkifResponse> firstWrite = front.write(queue, sectorA, page, offset, length);
            faults.whileFirstWriteInFlight(firstWrite);
            BlkifResponse first = firstWrite.get(60, TimeUnit.SECONDS);
            if (!first.ok()) {
                throw new AssertionError("trial " + t + ": write A failed with status " + first.status());
            }
            page.put(offset, b); // the guest reuses P at once, for another request
            BlkifResponse second = front.write(r.nextInt(front.queueCount()), sectorB, page, offset, length)
                    .get(60, TimeUnit.SECONDS);
            if (!second.ok()) {
                throw new AssertionError("trial " + t + ": write B failed with status " + second.status());
            }
            faults.afterReuse();
        }
        String failure = null;
        List<LateConsumerDevice.Replay> replays;
        if (faults.lateReplay()) {
            replays = device.replayLate();
        } else {
            device.discardKept();
            replays = List.of();
        }
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
        ByteBuf data = d.read(sector * 512, length).get(60, TimeUnit.SECONDS);
        try {
            return ByteBufUtil.getBytes(data);
        } finally {
            data.release();
        }
    }

    /** Closes the ring side; the storage device is closed too. */
    @Override
    public void close() {
        backend.close();
        device.close();
        front.close();
        guest.close();
        hv.close();
    }
}
