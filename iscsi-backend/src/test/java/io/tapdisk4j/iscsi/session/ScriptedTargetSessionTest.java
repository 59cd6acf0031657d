package io.tapdisk4j.iscsi.session;

import io.netty.buffer.Unpooled;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.iscsi.login.Credentials;
import io.tapdisk4j.iscsi.login.LoginConfig;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.scsi.Cdb;
import io.tapdisk4j.iscsi.scsi.ScsiStatus;
import io.tapdisk4j.iscsi.testing.ScriptedTarget;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Full feature phase situations a scripted target produces on demand (tgtd cannot be made to). */
class ScriptedTargetSessionTest {

    static final byte[] UNIT_ATTENTION = {0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x29, 0x00, 0, 0, 0, 0};

    static Map<String, String> r2tOnly() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("HeaderDigest", "None");
        m.put("DataDigest", "None");
        m.put("MaxRecvDataSegmentLength", "4096");
        m.put("ImmediateData", "No");
        m.put("InitialR2T", "Yes");
        m.put("MaxBurstLength", "16384");
        m.put("FirstBurstLength", "8192");
        m.put("ErrorRecoveryLevel", "0");
        return m;
    }

    static IscsiSession open(ScriptedTarget t) throws Exception {
        SessionConfig c = SessionConfig.of("127.0.0.1", t.port(), LoginConfig.normal("iqn.2026-11.test:scripted", Credentials.NONE))
                .withTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(10));
        return IscsiSession.open(c).get(10, TimeUnit.SECONDS);
    }

    static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    @Test
    void unitAttentionIsRetried() throws Exception {
        AtomicInteger commands = new AtomicInteger();
        try (ScriptedTarget t = new ScriptedTarget(r2tOnly(), (s, p) -> {
            if (p.opcode() == Opcode.SCSI_COMMAND) {
                if (commands.incrementAndGet() == 1) {
                    s.scsiResponse(p.itt(), ScsiStatus.CHECK_CONDITION, UNIT_ATTENTION);
                } else {
                    s.scsiResponse(p.itt(), ScsiStatus.GOOD, null);
                }
            }
        }); IscsiSession session = open(t)) {
            ScsiResult r = get(session.execute(ScsiCommand.noData(1, Cdb.testUnitReady())));
            r.data().release();
            assertEquals(2, commands.get(), "the command was sent again after the unit attention");
            ScsiTargetPdus first = ScsiTargetPdus.of(t);
            assertEquals(2, first.count, "two SCSI commands reached the target");
        }
    }

    /** Counts the SCSI commands recorded so far. */
    record ScsiTargetPdus(int count) {
        static ScsiTargetPdus of(ScriptedTarget t) {
            return new ScsiTargetPdus((int) t.received.stream().filter(r -> r.opcode() == Opcode.SCSI_COMMAND).count());
        }
    }

    @Test
    void writeIsSentInAnswerToSeveralR2Ts() throws Exception {
        byte[] data = new byte[20480];
        new java.util.Random(1).nextBytes(data);
        byte[] assembled = new byte[data.length];
        AtomicInteger maxSegment = new AtomicInteger();
        try (ScriptedTarget t = new ScriptedTarget(r2tOnly(), (s, p) -> {
            switch (p.opcode()) {
                case Opcode.SCSI_COMMAND -> {
                    assertEquals(0, p.data().length, "no immediate data when ImmediateData=No");
                    assertTrue((p.header().flags() & 0x80) != 0, "F bit: no unsolicited Data-Out with InitialR2T=Yes");
                    // Two bursts of at most MaxBurstLength, the second first (offsets need not be in order).
                    s.r2t(p.itt(), 0x77, 0, 16384, data.length - 16384);
                    s.r2t(p.itt(), 0x76, 1, 0, 16384);
                }
                case Opcode.DATA_OUT -> {
                    int offset = p.header().bufferOffset();
                    System.arraycopy(p.data(), 0, assembled, offset, p.data().length);
                    maxSegment.accumulateAndGet(p.data().length, Math::max);
                    if (Arrays.equals(assembled, data)) {
                        s.scsiResponse(p.itt(), ScsiStatus.GOOD, null);
                    }
                }
                default -> { }
            }
        }); IscsiSession session = open(t)) {
            get(session.execute(ScsiCommand.write(1, Cdb.write16(0, data.length / 512, false),
                    Unpooled.directBuffer().writeBytes(data)))).data().release();
            assertArrayEquals(data, assembled);
            assertTrue(maxSegment.get() <= 4096, "Data-Out segments respect the target's MaxRecvDataSegmentLength");
        }
    }

    /** ImmediateData=Yes, InitialR2T=No: immediate data, unsolicited Data-Out up to FirstBurstLength, then R2T. */
    @Test
    void immediateAndUnsolicitedDataThenR2T() throws Exception {
        Map<String, String> ops = r2tOnly();
        ops.put("ImmediateData", "Yes");
        ops.put("InitialR2T", "No");
        byte[] data = new byte[20480];
        new java.util.Random(4).nextBytes(data);
        byte[] assembled = new byte[data.length];
        List<String> sequence = java.util.Collections.synchronizedList(new ArrayList<>());
        try (ScriptedTarget t = new ScriptedTarget(ops, (s, p) -> {
            switch (p.opcode()) {
                case Opcode.SCSI_COMMAND -> {
                    sequence.add("cmd " + p.data().length + (((p.header().flags() & 0x80) != 0) ? " F" : ""));
                    System.arraycopy(p.data(), 0, assembled, 0, p.data().length);
                }
                case Opcode.DATA_OUT -> {
                    int ttt = p.header().targetTransferTag();
                    sequence.add((ttt == Pdu.RESERVED_TAG ? "unsolicited " : "solicited ") + p.header().bufferOffset()
                            + "+" + p.data().length + (((p.header().flags() & 0x80) != 0) ? " F" : ""));
                    System.arraycopy(p.data(), 0, assembled, p.header().bufferOffset(), p.data().length);
                    if (ttt == Pdu.RESERVED_TAG && (p.header().flags() & 0x80) != 0) {
                        s.r2t(p.itt(), 0x10, 0, 8192, data.length - 8192);
                    }
                    if (Arrays.equals(assembled, data)) {
                        s.scsiResponse(p.itt(), ScsiStatus.GOOD, null);
                    }
                }
                default -> { }
            }
        }); IscsiSession session = open(t)) {
            assertTrue(session.parameters().immediateData() && !session.parameters().initialR2T());
            get(session.execute(ScsiCommand.write(1, Cdb.write16(0, data.length / 512, false),
                    Unpooled.directBuffer().writeBytes(data)))).data().release();
            assertArrayEquals(data, assembled);
            assertEquals(List.of("cmd 4096", "unsolicited 4096+4096 F", "solicited 8192+4096", "solicited 12288+4096",
                    "solicited 16384+4096 F"), sequence);
        }
    }

    @Test
    void dataInInSeveralPiecesWithUnderflow() throws Exception {
        byte[] data = new byte[3000];
        new java.util.Random(2).nextBytes(data);
        try (ScriptedTarget t = new ScriptedTarget(r2tOnly(), (s, p) -> {
            if (p.opcode() == Opcode.SCSI_COMMAND) {
                s.dataIn(p.itt(), 2000, Arrays.copyOfRange(data, 2000, 3000), false, 0);
                s.dataIn(p.itt(), 0, Arrays.copyOfRange(data, 0, 2000), true, 1096);
            }
        }); IscsiSession session = open(t)) {
            ScsiResult r = get(session.execute(ScsiCommand.read(1, Cdb.read16(0, 8, false), 4096)));
            try {
                assertEquals(1096, r.residual());
                assertEquals(3000, r.data().readableBytes());
                byte[] got = new byte[3000];
                r.data().getBytes(r.data().readerIndex(), got);
                assertArrayEquals(data, got);
            } finally {
                r.data().release();
            }
        }
    }

    @Test
    void targetPingIsAnsweredWithItsTagAndData() throws Exception {
        try (ScriptedTarget t = new ScriptedTarget(r2tOnly(), (s, p) -> { }); IscsiSession session = open(t)) {
            assertTrue(session.parameters().initialR2T());
            // The target answers a command, then pings.
            t.script((s, p) -> {
                if (p.opcode() == Opcode.SCSI_COMMAND) {
                    s.scsiResponse(p.itt(), ScsiStatus.GOOD, null);
                    s.nopIn(0x4242, new byte[] {9, 8, 7});
                }
            });
            get(session.execute(ScsiCommand.noData(1, Cdb.testUnitReady()))).data().release();
            assertEquals(Opcode.SCSI_COMMAND, t.next().opcode());
            ScriptedTarget.Received answer = t.next();
            assertEquals(Opcode.NOP_OUT, answer.opcode());
            assertEquals(0x4242, answer.header().targetTransferTag());
            assertEquals(Pdu.RESERVED_TAG, answer.itt());
            assertTrue(answer.header().immediate());
            assertArrayEquals(new byte[] {9, 8, 7}, answer.data());
        }
    }

    @Test
    void commandsWaitForTheCmdSnWindow() throws Exception {
        List<ScriptedTarget.Received> pending = new ArrayList<>();
        ScriptedTarget.Session[] conn = new ScriptedTarget.Session[1];
        try (ScriptedTarget t = new ScriptedTarget(r2tOnly(), (s, p) -> {
            if (p.opcode() == Opcode.SCSI_COMMAND) {
                conn[0] = s;
                synchronized (pending) {
                    pending.add(p);
                    pending.notifyAll();
                }
            }
        })) {
            t.window = 1;
            try (IscsiSession session = open(t)) {
                List<CompletableFuture<ScsiResult>> all = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    all.add(session.execute(ScsiCommand.noData(1, Cdb.testUnitReady())));
                }
                int answered = 0;
                while (answered < 6) {
                    ScriptedTarget.Received p;
                    synchronized (pending) {
                        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                        while (pending.isEmpty()) {
                            long left = deadline - System.nanoTime();
                            assertTrue(left > 0, "no command arrived");
                            TimeUnit.NANOSECONDS.timedWait(pending, left);
                        }
                        // A window of one, moved on only by answers: one command at a time.
                        assertTrue(pending.size() <= 1, "commands beyond MaxCmdSN: " + pending.size());
                        p = pending.remove(0);
                    }
                    ScriptedTarget.Received answer = p;
                    conn[0].channel.eventLoop().execute(() -> {
                        conn[0].scsiResponse(answer.itt(), ScsiStatus.GOOD, null);
                        conn[0].flush();
                    });
                    answered++;
                }
                for (CompletableFuture<ScsiResult> f : all) {
                    get(f).data().release();
                }
                assertEquals(0, t.windowViolations.get(), "a command was sent beyond MaxCmdSN");
                int[] cmdSNs = t.received.stream().filter(r -> r.opcode() == Opcode.SCSI_COMMAND)
                        .mapToInt(ScriptedTarget.Received::cmdSN).toArray();
                for (int i = 1; i < cmdSNs.length; i++) {
                    assertEquals(cmdSNs[i - 1] + 1, cmdSNs[i], "CmdSN advances by one per command");
                }
            }
        }
    }

    static IscsiSession openWithCommandTimeout(ScriptedTarget t, Duration commandTimeout) throws Exception {
        SessionConfig c = SessionConfig.of("127.0.0.1", t.port(), LoginConfig.normal("iqn.2026-11.test:scripted", Credentials.NONE))
                .withTimeouts(commandTimeout, Duration.ofSeconds(30), Duration.ofSeconds(2), Duration.ofSeconds(10));
        return IscsiSession.open(c).get(10, TimeUnit.SECONDS);
    }

    /** A command the target sits on is aborted after the command timeout and sent again. */
    @Test
    void timedOutCommandIsAbortedAndReissued() throws Exception {
        AtomicInteger commands = new AtomicInteger();
        List<Integer> aborted = java.util.Collections.synchronizedList(new ArrayList<>());
        try (ScriptedTarget t = new ScriptedTarget(r2tOnly(), (s, p) -> {
            if (p.opcode() == Opcode.SCSI_COMMAND && commands.incrementAndGet() > 1) {
                s.scsiResponse(p.itt(), ScsiStatus.GOOD, null);
            } else if (p.opcode() == Opcode.TASK_MGMT_REQUEST) {
                assertEquals(1, p.header().flags() & 0x7f, "ABORT TASK");
                assertTrue(p.header().immediate());
                aborted.add(p.header().targetTransferTag()); // Referenced Task Tag
                s.taskManagementResponse(p, 0);
            }
        }); IscsiSession session = openWithCommandTimeout(t, Duration.ofMillis(300))) {
            get(session.execute(ScsiCommand.noData(1, Cdb.testUnitReady()))).data().release();
            assertEquals(2, commands.get());
            int firstItt = t.received.stream().filter(r -> r.opcode() == Opcode.SCSI_COMMAND).findFirst().orElseThrow().itt();
            assertEquals(List.of(firstItt), aborted, "the abort named the silent command");
            assertEquals(0, session.reconnects());
        }
    }

    /** Aborts that are never answered lead to one LOGICAL UNIT RESET; once it is answered, everything is reissued. */
    @Test
    void unansweredAbortsLeadToOneLunReset() throws Exception {
        AtomicInteger commands = new AtomicInteger();
        AtomicInteger resets = new AtomicInteger();
        try (ScriptedTarget t = new ScriptedTarget(r2tOnly(), (s, p) -> {
            if (p.opcode() == Opcode.SCSI_COMMAND && commands.incrementAndGet() > 3) {
                s.scsiResponse(p.itt(), ScsiStatus.GOOD, null);
            } else if (p.opcode() == Opcode.TASK_MGMT_REQUEST && (p.header().flags() & 0x7f) == 5) {
                resets.incrementAndGet();
                s.taskManagementResponse(p, 0);
            }
        }); IscsiSession session = openWithCommandTimeout(t, Duration.ofMillis(300))) {
            List<CompletableFuture<ScsiResult>> all = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                all.add(session.execute(ScsiCommand.noData(1, Cdb.testUnitReady())));
            }
            for (CompletableFuture<ScsiResult> f : all) {
                get(f).data().release();
            }
            assertEquals(1, resets.get(), "one reset for the LUN, not one per aborted command");
            assertEquals(6, commands.get(), "three sent, three reissued after the reset");
            assertEquals(0, session.reconnects());
        }
    }

    @Test
    void rejectedCommandFailsClearly() throws Exception {
        try (ScriptedTarget t = new ScriptedTarget(r2tOnly(), (s, p) -> {
            if (p.opcode() == Opcode.SCSI_COMMAND) {
                s.reject(p, 0x04);
            }
        }); IscsiSession session = open(t)) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> get(session.execute(ScsiCommand.noData(1, Cdb.testUnitReady()))));
            BlockDeviceException b = assertInstanceOf(BlockDeviceException.class, e.getCause());
            assertEquals(BlockError.EIO, b.error());
            assertTrue(b.getMessage().contains("rejected"), b.getMessage());
        }
    }

    @Test
    void checkConditionIsMappedToAnError() throws Exception {
        byte[] writeProtected = {0x70, 0, 0x07, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x27, 0x00, 0, 0, 0, 0};
        try (ScriptedTarget t = new ScriptedTarget(r2tOnly(), (s, p) -> {
            if (p.opcode() == Opcode.SCSI_COMMAND) {
                s.scsiResponse(p.itt(), ScsiStatus.CHECK_CONDITION, writeProtected);
            }
        }); IscsiSession session = open(t)) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> get(session.execute(ScsiCommand.noData(1, Cdb.synchronizeCache16()))));
            ScsiCommandException sce = assertInstanceOf(ScsiCommandException.class, e.getCause());
            assertEquals(BlockError.EROFS, sce.error());
            assertTrue(sce.getMessage().contains("write protected"), sce.getMessage());
        }
    }

    /** The target asks for a logout: the initiator logs in again and reissues what was outstanding. */
    @Test
    void asyncLogoutRequestLeadsToANewLoginAndReissue() throws Exception {
        AtomicInteger seen = new AtomicInteger();
        try (ScriptedTarget t = new ScriptedTarget(r2tOnly(), (s, p) -> {
            if (p.opcode() == Opcode.SCSI_COMMAND) {
                if (seen.incrementAndGet() == 1) {
                    s.asyncLogoutRequest();
                } else {
                    s.scsiResponse(p.itt(), ScsiStatus.GOOD, null);
                }
            }
        }); IscsiSession session = open(t)) {
            get(session.execute(ScsiCommand.noData(1, Cdb.testUnitReady()))).data().release();
            assertEquals(2, t.logins());
            assertEquals(1, session.reconnects());
        }
    }

    /** Data-In beyond the expected length is a protocol error: the connection is dropped, the read reissued. */
    @Test
    void hostileDataInDropsTheConnectionAndTheReadIsReissued() throws Exception {
        byte[] good = new byte[512];
        Arrays.fill(good, (byte) 0x5a);
        AtomicInteger seen = new AtomicInteger();
        try (ScriptedTarget t = new ScriptedTarget(r2tOnly(), (s, p) -> {
            if (p.opcode() == Opcode.SCSI_COMMAND) {
                if (seen.incrementAndGet() == 1) {
                    s.dataIn(p.itt(), 4096, new byte[512], true, 0);
                } else {
                    s.dataIn(p.itt(), 0, good, true, 0);
                }
            }
        }); IscsiSession session = open(t)) {
            ScsiResult r = get(session.execute(ScsiCommand.read(1, Cdb.read16(0, 1, false), 512)));
            try {
                byte[] got = new byte[512];
                r.data().getBytes(r.data().readerIndex(), got);
                assertArrayEquals(good, got);
            } finally {
                r.data().release();
            }
            assertEquals(1, session.reconnects());
            assertFalse(session.channel() == null);
        }
    }
}
