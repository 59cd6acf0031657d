package io.tapdisk4j.safety.race;

import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.safety.report.SafetyReport;
import io.tapdisk4j.safety.report.Tally;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The race on purpose, through the ring server and the emulated blkfront, in every data path, on local
 * storage (a raw image file through {@code file://}, backend "file"): see {@link RaceRig}. copy, map-copy and
 * persistent: no corruption in any trial. unsafe-map: the suite must see the race (corruption or use after
 * unmap), or it fails: a suite that cannot see the bug is a failed suite.
 */
class RingRaceTest {

    static final long DISK = 64L << 20;

    @TempDir
    Path dir; // the simulated hypervisor's directory

    @ParameterizedTest
    @EnumSource(DataPath.class)
    void guestReusesItsPageRightAfterCompletion(DataPath path) throws Exception {
        Tally tally = SafetyReport.tally("file", path.cliName());
        // unsafe-map hands the device a composite buffer over the mapped guest pages, which FileDevice writes
        // component by component; every path meets the same storage.
        Path image = dir.resolve("race-" + path.cliName() + ".raw");
        String uri = "file://" + image;
        BlockDevices.loadDefault().create(DeviceUri.parse(uri), DISK, "raw").close();
        try (RaceRig rig = new RaceRig(dir, path, BlockDevices.loadDefault().open(uri + "?format=raw"), DISK)) {
            runTrials(rig, tally, SafetyReport.trials(path.cliName()), RaceRig.Faults.NONE);
        }
    }

    /** Runs the trials and asserts the verdict for the rig's data path. */
    static void runTrials(RaceRig rig, Tally tally, int trials, RaceRig.Faults faults) throws Exception {
        SplittableRandom r = new SplittableRandom(tally.seed());
        String firstFailure = null;
        for (int t = 0; t < trials; t++) {
            String failure = rig.trial(r, t, tally, 8, faults);
            if (failure != null && firstFailure == null) {
                firstFailure = failure;
            }
        }
        System.out.println("[safety] race " + tally + (firstFailure == null ? "" : "; first: " + firstFailure));
        String path = rig.path.cliName();
        if (rig.path == DataPath.UNSAFE_MAP) {
            assertTrue(tally.sawRace(), "unsafe-map showed neither corruption nor a use after unmap in " + trials
                    + " trials (seed " + tally.seed() + "): this suite cannot see the race");
        } else {
            assertEquals(0, tally.corruptions(), path + " corrupted data (seed " + tally.seed() + "): " + firstFailure);
            assertEquals(0, tally.useAfterUnmapCount(), path + " used an unmapped page (seed " + tally.seed() + "): "
                    + firstFailure);
        }
    }
}
