package io.tapdisk4j.safety.race;

import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.nbd.client.NbdBlockDevice;
import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.testsupport.proxy.FaultProxy;
import io.tapdisk4j.testsupport.proxy.Framing;
import io.tapdisk4j.testsupport.proxy.ScriptedPolicy;
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
 * The race through tapdisk4j's nbd:// client, the fault proxy and nbdkit, in every data path. Seeded
 * trials add one of two network faults:
 * <ul>
 *   <li>{@link ProxyHoldAndReissue} (the first trial, then one in ten): write A's first transmission
 *       held, the client's connection cut, A reissued on another connection and completed, the guest's page
 *       reused, then the stale transmission released to nbdkit. These trials end with the late replay.</li>
 *   <li>{@link OutboundQueueStall} (the second trial, then one in forty): A queued on connections
 *       the proxy stopped reading, nbdkit's side "closes" (a FIN from the proxy: connection loss is what
 *       makes this client reissue; a request timeout fails the request instead), A reissued and completed,
 *       the page reused, then the stale bytes the client left queued are passed on to nbdkit.</li>
 * </ul>
 * Verdicts as for local storage.
 */
class NbdRaceTest {

    static final long DISK = 64L << 20;
    /** The last 16 MiB take the stall scenario's filler; trials write below. */
    static final long FILLER = 16L << 20;

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
                NbdBlockDevice nbd = (NbdBlockDevice) BlockDevices.loadDefault().open("nbd://127.0.0.1:" + proxy.port()
                        + "/?connections=2&timeout=60&reconnect-timeout=60");
                int connections = nbd.capabilities().contains(io.tapdisk4j.block.Capability.MULTI_HANDLE_CONSISTENT) ? 2 : 1;
                SplittableRandom pick = new SplittableRandom(tally.seed() ^ 0x5eed);
                try (RaceRig rig = new RaceRig(dir, path, nbd, DISK - FILLER)) {
                    ProxyHoldAndReissue hold = new ProxyHoldAndReissue(proxy, script, "NBD_CMD_WRITE",
                            tally.scenario(ProxyHoldAndReissue.SCENARIO));
                    OutboundQueueStall stall = new OutboundQueueStall(proxy, rig.device, OutboundQueueStall::nbdWrite,
                            DISK - FILLER, FILLER, tally.scenario(OutboundQueueStall.SCENARIO), tally.seed() ^ 0x57a11,
                            new OutboundQueueStall.Trigger[] {OutboundQueueStall.Trigger.SERVER_CLOSES},
                            () -> nbd.liveConnections() == connections, Duration.ofSeconds(30));
                    proxy.policy(stall.watching(script));
                    RaceRig.Faults faults = RaceRig.choose(t -> {
                        int roll = pick.nextInt(40);
                        return t == 0 || (t > 1 && roll < 4) ? hold : t == 1 || roll == 4 ? stall : RaceRig.Faults.NONE;
                    });
                    RingRaceTest.runTrials(rig, tally, SafetyReport.trials(path.cliName()), faults);
                    OutboundQueueStall.verdict("nbd", path, tally, stall, true, OutboundQueueStall.NETTY_DROPS_THE_QUEUE + ".");
                } finally {
                    tally.faults(proxy.faultsInjected());
                }
            }
        }
    }
}
