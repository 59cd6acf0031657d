package io.tapdisk4j.iscsi.pdu;

import io.netty.buffer.ByteBuf;

/** Builders for the PDUs an initiator sends in the full feature phase (RFC 7143 11.3-11.18). */
public final class InitiatorPdus {

    public static final int READ = 0x40;
    public static final int WRITE = 0x20;
    /** Task attribute SIMPLE (RFC 7143 11.3.1.2). */
    private static final int ATTR_SIMPLE = 1;

    public static final int TMF_ABORT_TASK = 1;
    public static final int TMF_LOGICAL_UNIT_RESET = 5;

    private InitiatorPdus() {
    }

    /**
     * SCSI Command. {@code finalBit}: no unsolicited Data-Out follows; {@code immediateData} (may be empty)
     * travels in the same PDU; the PDU takes over that reference.
     */
    public static Pdu scsiCommand(long lun, int itt, int cmdSN, int expStatSN, byte[] cdb, int direction,
                                  int expectedLength, boolean finalBit, ByteBuf immediateData) {
        if (cdb.length > 16) {
            throw new IllegalArgumentException("CDB longer than 16 bytes needs an AHS: " + cdb.length);
        }
        Pdu p = Pdu.of(Opcode.SCSI_COMMAND, false, immediateData);
        p.flags((finalBit ? 0x80 : 0) | direction | ATTR_SIMPLE);
        p.longAt(8, lun).intAt(16, itt).intAt(20, expectedLength).intAt(24, cmdSN).intAt(28, expStatSN);
        System.arraycopy(cdb, 0, p.bhs(), 32, cdb.length);
        return p;
    }

    public static Pdu dataOut(long lun, int itt, int ttt, int expStatSN, int dataSN, int bufferOffset,
                              boolean finalBit, ByteBuf data) {
        Pdu p = Pdu.of(Opcode.DATA_OUT, false, data);
        p.flags(finalBit ? 0x80 : 0);
        return p.longAt(8, lun).intAt(16, itt).intAt(20, ttt).intAt(28, expStatSN).intAt(36, dataSN)
                .intAt(40, bufferOffset);
    }

    /** NOP-Out: a ping of our own ({@code ttt} reserved) or the answer to a target's NOP-In ({@code itt} reserved). */
    public static Pdu nopOut(long lun, int itt, int ttt, int cmdSN, int expStatSN, ByteBuf pingData) {
        Pdu p = Pdu.of(Opcode.NOP_OUT, true, pingData);
        p.flags(0x80);
        return p.longAt(8, lun).intAt(16, itt).intAt(20, ttt).intAt(24, cmdSN).intAt(28, expStatSN);
    }

    public static Pdu taskManagement(int function, long lun, int itt, int referencedTag, int cmdSN, int expStatSN,
                                     int refCmdSN) {
        Pdu p = Pdu.of(Opcode.TASK_MGMT_REQUEST, true, null);
        p.flags(0x80 | function);
        return p.longAt(8, lun).intAt(16, itt).intAt(20, referencedTag).intAt(24, cmdSN).intAt(28, expStatSN)
                .intAt(32, refCmdSN);
    }

    public static Pdu textRequest(int itt, int ttt, int cmdSN, int expStatSN, ByteBuf text) {
        Pdu p = Pdu.of(Opcode.TEXT_REQUEST, true, text);
        p.flags(0x80);
        return p.intAt(16, itt).intAt(20, ttt).intAt(24, cmdSN).intAt(28, expStatSN);
    }

    /** Logout with reason 0: close the session. */
    public static Pdu logoutRequest(int itt, int cmdSN, int expStatSN) {
        Pdu p = Pdu.of(Opcode.LOGOUT_REQUEST, true, null);
        p.flags(0x80);
        return p.intAt(16, itt).intAt(24, cmdSN).intAt(28, expStatSN);
    }
}
