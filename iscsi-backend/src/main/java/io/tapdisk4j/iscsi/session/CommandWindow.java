package io.tapdisk4j.iscsi.session;

import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;

import java.util.Comparator;

/**
 * The session's sequence numbers (RFC 7143 4.2.2): the next CmdSN, the target's MaxCmdSN that bounds the
 * command window, and ExpStatSN. All comparisons are serial arithmetic (the numbers wrap). Loop-confined.
 */
final class CommandWindow {

    private int cmdSN;
    private int maxCmdSN;
    private int expStatSN;

    /** Starts over from a login's numbers. */
    void start(int cmdSN, int maxCmdSN, int expStatSN) {
        this.cmdSN = cmdSN;
        this.maxCmdSN = maxCmdSN;
        this.expStatSN = expStatSN;
    }

    /** Whether the target admits one more command now ({@code CmdSN <= MaxCmdSN}). */
    boolean open() {
        return (maxCmdSN - cmdSN) >= 0;
    }

    /** The CmdSN for the next command, which then counts as sent. */
    int take() {
        return cmdSN++;
    }

    int cmdSN() {
        return cmdSN;
    }

    int maxCmdSN() {
        return maxCmdSN;
    }

    int expStatSN() {
        return expStatSN;
    }

    /** Takes ExpStatSN and the window's bounds from a PDU the target sent. */
    void update(Pdu pdu) {
        boolean carriesStatus = switch (pdu.opcode()) {
            case Opcode.SCSI_RESPONSE, Opcode.TASK_MGMT_RESPONSE, Opcode.TEXT_RESPONSE, Opcode.LOGOUT_RESPONSE,
                 Opcode.REJECT, Opcode.ASYNC_MESSAGE -> true;
            case Opcode.DATA_IN -> (pdu.flags() & 0x01) != 0;
            case Opcode.NOP_IN -> pdu.initiatorTaskTag() != Pdu.RESERVED_TAG;
            default -> false;
        };
        if (carriesStatus && (pdu.statSN() + 1 - expStatSN) > 0) {
            expStatSN = pdu.statSN() + 1;
        }
        int exp = pdu.expCmdSN();
        int max = pdu.maxCmdSN();
        // RFC 7143 4.2.2.1: ignore both when MaxCmdSN < ExpCmdSN - 1 (serial arithmetic).
        if ((max - (exp - 1)) >= 0 && (max - maxCmdSN) > 0) {
            maxCmdSN = max;
        }
    }

    /** Orders tasks by the CmdSN they were sent with, oldest first (serial arithmetic around the next CmdSN). */
    Comparator<Task> oldestFirst() {
        int next = cmdSN;
        return Comparator.comparingInt((Task t) -> t.cmdSN - next);
    }
}
