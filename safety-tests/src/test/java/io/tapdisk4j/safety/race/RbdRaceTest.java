package io.tapdisk4j.safety.race;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.rbd.testing.CephCluster;
import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.safety.report.SafetyReport;
import io.tapdisk4j.safety.report.ScenarioTally;
import io.tapdisk4j.safety.report.Tally;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

/**
 * The race through tapdisk4j's rbd:// device and a single-node Ceph cluster, in every data path, with librbd's
 * zero-copy writes on (its messenger then sends, and resends, straight from the dom0 buffer it was given, and
 * holds the completion until it lets go of it): the mode in which librbd itself keeps references to the buffer. The network scenario ({@code osd-restart}, the first trial of each path): write A
 * is in flight when the OSD is SIGKILLed; it is restarted, librbd resends A to the new OSD from the buffer it
 * kept, A completes, the guest reuses its page at once for write B. Ceph's messenger cannot be put behind the
 * fault proxy (msgr2 frames are checksummed and sessions are authenticated), so the restart is the real
 * event that makes librbd send again. Every trial ends with the late replay. Verdicts as for local storage.
 */
@Timeout(900)
class RbdRaceTest {

    static final long DISK = 64L << 20;
    static final String SCENARIO = "osd-restart";

    @TempDir
    Path dir;

    /** SIGKILL the OSD while A is in flight, restart it: A completes only after librbd resent it. */
    static final class OsdRestart implements RaceRig.Faults {
        private final CephCluster ceph;
        private final ScenarioTally scenario;

        OsdRestart(CephCluster ceph, ScenarioTally scenario) {
            this.ceph = ceph;
            this.scenario = scenario;
        }

        @Override
        public void whileFirstWriteInFlight(CompletableFuture<BlkifResponse> first) {
            scenario.trial();
            ceph.killOsd();
            boolean stalled = !first.isDone();
            ceph.startOsd();
            if (stalled) {
                scenario.recordDelivered(true); // A reached storage only through librbd's resend
            } else {
                scenario.recordNotDelivered(); // A was done before the OSD died: nothing to resend
            }
        }
    }

    @ParameterizedTest
    @EnumSource(DataPath.class)
    void guestReusesItsPageWhileLibrbdResends(DataPath path) throws Exception {
        CephCluster ceph = CephCluster.shared();
        Tally tally = SafetyReport.tally("rbd", path.cliName());
        String image = "race-" + path.cliName() + "-" + ProcessHandle.current().pid();
        ceph.rbd("create", "--size", "64M", CephCluster.POOL + "/" + image);
        BlockDevice rbd = BlockDevices.loadDefault().open(ceph.uri(image, "&rbd_disable_zero_copy_writes=false"));
        OsdRestart restart = new OsdRestart(ceph, tally.scenario(SCENARIO));
        try (RaceRig rig = new RaceRig(dir, path, rbd, DISK)) {
            RaceRig.Faults faults = RaceRig.choose(t -> t == 0 ? restart : RaceRig.Faults.NONE);
            RingRaceTest.runTrials(rig, tally, SafetyReport.trials(path.cliName()), faults);
        }
    }
}
