package io.tapdisk4j.safety.race;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.safety.peers.TgtdServer;
import io.tapdisk4j.safety.proxy.Direction;
import io.tapdisk4j.safety.proxy.FaultAction;
import io.tapdisk4j.safety.proxy.FaultPolicy;
import io.tapdisk4j.safety.proxy.FaultProxy;
import io.tapdisk4j.safety.proxy.Framing;
import io.tapdisk4j.safety.proxy.ScriptedPolicy;
import io.tapdisk4j.safety.report.SafetyReport;
import io.tapdisk4j.safety.report.Tally;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The race through tapdisk4j's iscsi:// initiator and tgtd, in every data path. Some trials (seeded) cut
 * the connection in place of write A's SCSI command PDU: the initiator reinstates the session and reissues
 * A from the buffer it kept, A completes, the guest reuses its page. (A held PDU is not released later:
 * session reinstatement makes the target drop the old connection, which is iSCSI's own answer to stale
 * commands.) Every trial ends with the late consumer's replay.
 */
class IscsiRaceTest {

    static final long DISK = 64L << 20;

    @TempDir
    Path dir;

    /** A SCSI Command PDU (opcode 0x01) carrying WRITE(10) or WRITE(16) (CDB at byte 32). */
    static Predicate<FaultPolicy.FrameEvent> scsiWrite() {
        return e -> {
            if (e.direction() != Direction.TO_SERVER || !e.kind().equals("iscsi-0x01")) {
                return false;
            }
            ByteBuf b = e.frame().bytes();
            int op = b.getUnsignedByte(b.readerIndex() + 32);
            return op == 0x2a || op == 0x8a;
        };
    }

    @ParameterizedTest
    @EnumSource(DataPath.class)
    void guestReusesItsPageWhileTheInitiatorReissues(DataPath path) throws Exception {
        Tally tally = SafetyReport.tally("iscsi", path.cliName());
        Path backing = dir.resolve("lun.raw");
        try (RandomAccessFile f = new RandomAccessFile(backing.toFile(), "rw")) {
            f.setLength(DISK);
        }
        ScriptedPolicy script = new ScriptedPolicy();
        try (TgtdServer tgtd = new TgtdServer(dir, backing);
             FaultProxy proxy = FaultProxy.to(tgtd.port()).framing(Framing.iscsiPdus()).policy(script).start()) {
            BlockDevice lun = BlockDevices.loadDefault().open(tgtd.url(proxy.port()));
            SplittableRandom pick = new SplittableRandom(tally.seed() ^ 0x5eed);
            int[] cuts = {0};
            RaceRig.Faults faults = new RaceRig.Faults() {
                int trial;

                @Override
                public void beforeFirstWrite() {
                    if (trial++ == 0 || pick.nextInt(10) == 0) {
                        script.once(scsiWrite(), FaultAction.CUT);
                        cuts[0]++;
                    }
                }

                @Override
                public void whileFirstWriteInFlight(CompletableFuture<BlkifResponse> first) {
                }
            };
            try (RaceRig rig = new RaceRig(dir, path, lun, DISK)) {
                RingRaceTest.runTrials(rig, tally, SafetyReport.trials(path.cliName()), faults);
            } finally {
                tally.faults(proxy.faultsInjected());
            }
            assertTrue(proxy.connections().size() > 1, "the initiator never reconnected through the proxy ("
                    + proxy.connections().size() + " connections for " + cuts[0] + " cuts)");
        }
    }
}
