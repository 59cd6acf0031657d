package io.tapdisk4j.safety.race;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.safety.proxy.FaultProxy;
import io.tapdisk4j.safety.proxy.Framing;
import io.tapdisk4j.safety.proxy.ScriptedPolicy;
import io.tapdisk4j.safety.report.SafetyReport;
import io.tapdisk4j.safety.report.Tally;
import io.tapdisk4j.testsupport.PeerProcess;
import io.tapdisk4j.testsupport.Peers;
import io.tapdisk4j.testsupport.Ports;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The race through tapdisk4j's nbd:// client, the fault proxy and nbdkit, in every data path. Some trials
 * (seeded) add the network fault: write A's first transmission is held, the client's connection cut, A
 * reissued on another connection and completed, the guest's page reused, then the stale transmission
 * released to nbdkit. Every trial ends with the late consumer's replay. Verdicts as for local storage.
 */
class NbdRaceTest {

    static final long DISK = 64L << 20;

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(DataPath.class)
    void guestReusesItsPageWhileTheNetworkRetransmits(DataPath path) throws Exception {
        Tally tally = SafetyReport.tally("nbd", path.cliName());
        int port = Ports.free();
        try (PeerProcess nbdkit = PeerProcess.start("nbdkit", List.of(Peers.require("nbdkit", "nbdkit"), "-f",
                "-p", String.valueOf(port), "-i", "127.0.0.1", "--exit-with-parent", "memory", "64M"), dir, null)) {
            Ports.awaitListening(port, Duration.ofSeconds(15), nbdkit.process());
            ScriptedPolicy script = new ScriptedPolicy();
            try (FaultProxy proxy = FaultProxy.to(port).framing(Framing.nbd()).policy(script).start()) {
                BlockDevice nbd = BlockDevices.loadDefault().open("nbd://127.0.0.1:" + proxy.port()
                        + "/?connections=2&timeout=60&reconnect-timeout=60");
                ProxyHoldAndReissue hold = new ProxyHoldAndReissue(proxy, script, "NBD_CMD_WRITE");
                SplittableRandom pick = new SplittableRandom(tally.seed() ^ 0x5eed);
                try (RaceRig rig = new RaceRig(dir, path, nbd, DISK)) {
                    // Every tenth trial or so (and the first) goes through the held-and-reissued retransmission.
                    int[] trial = {0};
                    RaceRig.Faults faults = new RaceRig.Faults() {
                        boolean active;

                        @Override
                        public void beforeFirstWrite() {
                            active = trial[0]++ == 0 || pick.nextInt(10) == 0;
                            if (active) {
                                hold.beforeFirstWrite();
                            }
                        }

                        @Override
                        public void whileFirstWriteInFlight(java.util.concurrent.CompletableFuture<
                                io.tapdisk4j.ring.frontend.BlkifResponse> first) throws Exception {
                            if (active) {
                                hold.whileFirstWriteInFlight(first);
                            }
                        }

                        @Override
                        public void afterReuse() throws Exception {
                            if (active) {
                                hold.afterReuse();
                            }
                        }
                    };
                    RingRaceTest.runTrials(rig, tally, SafetyReport.trials(path.cliName()), faults);
                } finally {
                    tally.faults(proxy.faultsInjected());
                }
            }
        }
    }
}
