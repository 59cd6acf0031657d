package io.tapdisk4j.safety.race;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.iscsi.device.IscsiBlockDevice;
import io.tapdisk4j.iscsi.device.IscsiUrl;
import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.testsupport.proxy.Direction;
import io.tapdisk4j.testsupport.proxy.FaultAction;
import io.tapdisk4j.testsupport.proxy.FaultPolicy;
import io.tapdisk4j.testsupport.proxy.FaultProxy;
import io.tapdisk4j.testsupport.proxy.Framing;
import io.tapdisk4j.testsupport.proxy.HeldFrame;
import io.tapdisk4j.testsupport.proxy.ScriptedPolicy;
import io.tapdisk4j.safety.report.SafetyReport;
import io.tapdisk4j.safety.report.ScenarioTally;
import io.tapdisk4j.safety.report.Tally;
import io.tapdisk4j.testsupport.peers.Tgtd;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The race through tapdisk4j's iscsi:// initiator and tgtd, in every data path. Seeded trials add one of
 * three network faults:
 * <ul>
 *   <li>{@link HeldCommand} (the first trial, then about one in thirteen): write A's SCSI Command PDU is
 *       held by the proxy and the client's side of the connection cut; the initiator reinstates the session
 *       on a new connection and reissues A, which completes; the guest reuses its page; then the held PDU is
 *       released towards tgtd on the old connection. Ends with the late replay.</li>
 *   <li>A cut in place of write A's command (one in forty): reinstatement and reissue.</li>
 *   <li>{@link OutboundQueueStall} (the second trial, then one in forty): A queued on a connection the
 *       proxy stopped reading; the initiator's NOP-Out keepalive times out (or the proxy closes towards it)
 *       and the session is reinstated on a new connection, A reissued and completed, the page reused, then the
 *       old connection is read again.</li>
 * </ul>
 * At ErrorRecoveryLevel 0 a session reinstatement makes tgtd end the old session's connection, so a stale
 * command normally has no way left to reach it; the trials record whether it did.
 */
class IscsiRaceTest {

    static final long DISK = 64L << 20;
    /** The last 16 MiB take the outbound-queue scenario's filler; trials write below. */
    static final long FILLER = 16L << 20;
    static final int BLOCK = 512;

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

    /**
     * The parts of a write at [offset, offset + length) that iSCSI PDUs carry: a write command's immediate
     * data (at 0) and Data-Out PDUs of that command (at their buffer offset), matched by initiator task tag
     * per connection. Called on the proxy's event loop only.
     */
    static final class WriteParts implements OutboundQueueStall.WriteFrames {
        private final Map<String, Long> commandOffsets = new ConcurrentHashMap<>();

        @Override
        public OutboundQueueStall.Part part(FaultPolicy.FrameEvent e, long offset, int length) {
            if (e.direction() != Direction.TO_SERVER) {
                return null;
            }
            ByteBuf b = e.frame().bytes();
            int r = b.readerIndex();
            int dataAt = 48 + b.getUnsignedByte(r + 4) * 4;
            int n = b.getUnsignedMedium(r + 5);
            String key = e.connection().index() + "/" + e.tag();
            long at;
            if (scsiWrite().test(e)) {
                int op = b.getUnsignedByte(r + 32);
                long lba = op == 0x2a ? b.getUnsignedInt(r + 34) : b.getLong(r + 34);
                at = lba * BLOCK;
                commandOffsets.put(key, at);
            } else if (e.kind().equals("iscsi-0x05")) {
                Long command = commandOffsets.get(key);
                if (command == null) {
                    return null;
                }
                at = command + b.getUnsignedInt(r + 40);
            } else {
                return null;
            }
            if (n == 0 || at < offset || at + n > offset + length || b.readableBytes() < dataAt + n) {
                return null;
            }
            byte[] data = new byte[n];
            b.getBytes(r + dataAt, data);
            return new OutboundQueueStall.Part((int) (at - offset), data);
        }
    }

    /**
     * Write A's command PDU held; the client's side of its connection cut, so the initiator reinstates the
     * session and reissues A on a new connection; after the guest reused its page the held PDU is released
     * towards tgtd on the old connection, if tgtd has not ended it.
     */
    static final class HeldCommand implements RaceRig.Faults {
        private final FaultProxy proxy;
        private final ScriptedPolicy script;
        private final ScenarioTally scenario;
        private HeldFrame stale;
        int refused;
        int unanswered;

        HeldCommand(FaultProxy proxy, ScriptedPolicy script, ScenarioTally scenario) {
            this.proxy = proxy;
            this.script = script;
            this.scenario = scenario;
        }

        @Override
        public void beforeFirstWrite(RaceRig.Issued issued) {
            script.once(scsiWrite(), FaultAction.HOLD);
        }

        @Override
        public void whileFirstWriteInFlight(CompletableFuture<BlkifResponse> first) throws Exception {
            stale = proxy.awaitHeld(Duration.ofSeconds(30));
            stale.connection().cutClientSide();
            proxy.countFault();
        }

        @Override
        public void afterReuse() throws Exception {
            HeldFrame s = stale;
            stale = null;
            scenario.trial();
            // The target's answer to the stale command, if it ever runs it (same connection, same tag).
            Predicate<FaultPolicy.FrameEvent> answer = e -> e.connection() == s.connection()
                    && e.direction() == Direction.TO_CLIENT && e.tag() == s.tag();
            script.once(answer, FaultAction.HOLD);
            boolean sent = s.release().get(30, TimeUnit.SECONDS);
            if (!sent) {
                // tgtd ended the old session's connection when the initiator reinstated the session.
                refused++;
                scenario.recordNotDelivered();
            } else {
                try {
                    proxy.awaitHeld(Duration.ofSeconds(5)).discard();
                    scenario.recordDelivered(true); // the proxy captured it at its first transmission
                } catch (TimeoutException ignored) {
                    // Sent into a connection of a session that no longer exists: tgtd never answered it.
                    unanswered++;
                    scenario.recordNotDelivered();
                }
            }
            script.clear();
            s.connection().cut();
        }
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
        try (Tgtd tgtd = Tgtd.start(dir).targetWithLun(backing);
             FaultProxy proxy = FaultProxy.to(tgtd.port()).framing(Framing.iscsiPdus()).policy(script).start()) {
            IscsiUrl url = IscsiUrl.parse(DeviceUri.parse(tgtd.url(proxy.port())));
            // A NOP-Out after 250 ms of silence, answered within 600 ms, or the connection is given up and the
            // session reinstated: the initiator's own way out of a stalled connection.
            IscsiBlockDevice lun = IscsiBlockDevice.open(url, url.sessionConfig().withTimeouts(Duration.ofSeconds(30),
                    Duration.ofMillis(250), Duration.ofMillis(600), Duration.ofSeconds(60)), false);
            SplittableRandom pick = new SplittableRandom(tally.seed() ^ 0x5eed);
            HeldCommand held = new HeldCommand(proxy, script, tally.scenario(ProxyHoldAndReissue.SCENARIO));
            RaceRig.Faults cut = new RaceRig.Faults() {
                @Override
                public void beforeFirstWrite(RaceRig.Issued issued) {
                    script.once(scsiWrite(), FaultAction.CUT);
                }
            };
            try (RaceRig rig = new RaceRig(dir, path, lun, DISK - FILLER)) {
                OutboundQueueStall stall = new OutboundQueueStall(proxy, rig.device, new WriteParts(),
                        DISK - FILLER, FILLER, tally.scenario(OutboundQueueStall.SCENARIO), tally.seed() ^ 0x57a11,
                        new OutboundQueueStall.Trigger[] {OutboundQueueStall.Trigger.CLIENT_TIMEOUT,
                                OutboundQueueStall.Trigger.SERVER_CLOSES},
                        () -> lun.session().channel() != null, Duration.ofSeconds(5));
                proxy.policy(stall.watching(script));
                RaceRig.Faults faults = RaceRig.choose(t -> {
                    int roll = pick.nextInt(40);
                    return t == 0 || (t > 1 && roll < 3) ? held : t == 1 || roll == 4 ? stall
                            : roll == 3 ? cut : RaceRig.Faults.NONE;
                });
                RingRaceTest.runTrials(rig, tally, SafetyReport.trials(path.cliName()), faults);
                System.out.println("[safety] iscsi " + path.cliName() + " " + ProxyHoldAndReissue.SCENARIO + ": "
                        + tally.scenario(ProxyHoldAndReissue.SCENARIO) + "; " + held.refused + " refused (tgtd had"
                        + " ended the old connection), " + held.unanswered + " sent but never answered");
                OutboundQueueStall.verdict("iscsi", path, tally, stall, false, OutboundQueueStall.NETTY_DROPS_THE_QUEUE
                        + "; and tgtd ends the old session's connection when the initiator reinstates the session, so"
                        + " the stale bytes do not even reach it.");
            } finally {
                tally.faults(proxy.faultsInjected());
            }
            assertTrue(proxy.connections().size() > 1, "the initiator never reconnected through the proxy ("
                    + proxy.connections().size() + " connections)");
        }
    }
}
