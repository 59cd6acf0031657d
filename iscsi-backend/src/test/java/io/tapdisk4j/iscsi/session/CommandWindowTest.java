package io.tapdisk4j.iscsi.session;

import io.netty.buffer.Unpooled;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CommandWindowTest {

    private static Pdu fromTarget(int opcode, int flags, int itt, int statSN, int expCmdSN, int maxCmdSN) {
        Pdu p = Pdu.of(opcode, false, Unpooled.EMPTY_BUFFER).flags(flags);
        return p.intAt(16, itt).intAt(24, statSN).intAt(28, expCmdSN).intAt(32, maxCmdSN);
    }

    @Test
    void admitsCommandsUpToMaxCmdSN() {
        CommandWindow w = new CommandWindow();
        w.start(10, 11, 1);
        assertTrue(w.open());
        assertEquals(10, w.take());
        assertTrue(w.open());
        assertEquals(11, w.take());
        assertFalse(w.open(), "CmdSN 12 > MaxCmdSN 11");
        w.update(fromTarget(Opcode.SCSI_RESPONSE, 0x80, 1, 1, 12, 20));
        assertTrue(w.open());
        assertEquals(2, w.expStatSN());
        assertEquals(20, w.maxCmdSN());
    }

    @Test
    void windowWrapsAroundSerially() {
        CommandWindow w = new CommandWindow();
        w.start(Integer.MAX_VALUE, Integer.MIN_VALUE + 1, 0);
        assertEquals(Integer.MAX_VALUE, w.take());
        assertEquals(Integer.MIN_VALUE, w.take());
        assertEquals(Integer.MIN_VALUE + 1, w.take());
        assertFalse(w.open());
    }

    @Test
    void ignoresAnInvalidOrOlderWindow() {
        CommandWindow w = new CommandWindow();
        w.start(5, 20, 1);
        // MaxCmdSN < ExpCmdSN - 1: both ignored (RFC 7143 4.2.2.1).
        w.update(fromTarget(Opcode.NOP_IN, 0x80, Pdu.RESERVED_TAG, 0, 30, 25));
        assertEquals(20, w.maxCmdSN());
        // A smaller MaxCmdSN that arrives late never shrinks the window.
        w.update(fromTarget(Opcode.R2T, 0x80, 1, 0, 6, 10));
        assertEquals(20, w.maxCmdSN());
    }

    @Test
    void expStatSNOnlyFromPdusThatCarryStatus() {
        CommandWindow w = new CommandWindow();
        w.start(1, 10, 5);
        w.update(fromTarget(Opcode.DATA_IN, 0x80, 1, 9, 1, 10)); // no S bit: StatSN reserved
        assertEquals(5, w.expStatSN());
        w.update(fromTarget(Opcode.NOP_IN, 0x80, Pdu.RESERVED_TAG, 9, 1, 10)); // unsolicited NOP-In
        assertEquals(5, w.expStatSN());
        w.update(fromTarget(Opcode.DATA_IN, 0x81, 1, 7, 1, 10)); // S bit
        assertEquals(8, w.expStatSN());
        w.update(fromTarget(Opcode.SCSI_RESPONSE, 0x80, 1, 6, 1, 10)); // older StatSN: no step back
        assertEquals(8, w.expStatSN());
    }

    @Test
    void ordersTasksByCmdSNAcrossTheWrap() {
        CommandWindow w = new CommandWindow();
        w.start(Integer.MAX_VALUE - 1, Integer.MAX_VALUE + 10, 0);
        List<Task> sent = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Task t = new Task(new ScsiCommand(0, new byte[6], 0, null), new CompletableFuture<>());
            t.cmdSN = w.take();
            sent.add(t);
        }
        List<Task> shuffled = new ArrayList<>(List.of(sent.get(2), sent.get(0), sent.get(3), sent.get(1)));
        shuffled.sort(w.oldestFirst());
        assertEquals(sent, shuffled);
    }
}
