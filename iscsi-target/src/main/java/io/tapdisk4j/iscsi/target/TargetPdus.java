package io.tapdisk4j.iscsi.target;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;

/** Builders for the PDUs a target sends (RFC 7143 11.4-11.17); sequence numbers are filled by the caller. */
final class TargetPdus {

    static final int RESERVED = Pdu.RESERVED_TAG;

    private TargetPdus() {
    }

    static Pdu loginResponse(byte[] request, int flags, int tsih, int statusClass, int statusDetail, ByteBuf data) {
        Pdu p = Pdu.of(Opcode.LOGIN_RESPONSE, false, data);
        p.flags(flags);
        System.arraycopy(request, 8, p.bhs(), 8, 6); // ISID
        p.shortAt(14, tsih);
        p.intAt(16, intAt(request, 16)); // ITT
        p.byteAt(36, statusClass).byteAt(37, statusDetail);
        return p;
    }

    static Pdu textResponse(boolean finalBit, int itt, ByteBuf data) {
        Pdu p = Pdu.of(Opcode.TEXT_RESPONSE, false, data);
        p.flags(finalBit ? 0x80 : 0x40);
        return p.intAt(16, itt).intAt(20, RESERVED);
    }

    /** SCSI Response; {@code sense} (may be null) goes into the data segment behind its 2-byte length. */
    static Pdu scsiResponse(int itt, int status, int residualFlags, int residual, int expDataSN, ByteBuf senseSegment) {
        Pdu p = Pdu.of(Opcode.SCSI_RESPONSE, false, senseSegment);
        p.flags(0x80 | residualFlags);
        p.byteAt(2, 0).byteAt(3, status);
        return p.intAt(16, itt).intAt(36, expDataSN).intAt(44, residual);
    }

    static Pdu dataIn(long lun, int itt, int dataSN, int offset, boolean finalBit, boolean withStatus, int status,
                      int residualFlags, int residual, ByteBuf data) {
        Pdu p = Pdu.of(Opcode.DATA_IN, false, data);
        p.flags((finalBit ? 0x80 : 0) | (withStatus ? 0x01 | residualFlags : 0));
        if (withStatus) {
            p.byteAt(3, status);
            p.intAt(44, residual);
        }
        return p.longAt(8, lun).intAt(16, itt).intAt(20, RESERVED).intAt(36, dataSN).intAt(40, offset);
    }

    static Pdu r2t(long lun, int itt, int ttt, int r2tSN, int offset, int length) {
        Pdu p = Pdu.of(Opcode.R2T, false, null);
        p.flags(0x80);
        return p.longAt(8, lun).intAt(16, itt).intAt(20, ttt).intAt(36, r2tSN).intAt(40, offset).intAt(44, length);
    }

    static Pdu nopIn(long lun, int itt, int ttt, ByteBuf data) {
        Pdu p = Pdu.of(Opcode.NOP_IN, false, data);
        p.flags(0x80);
        return p.longAt(8, lun).intAt(16, itt).intAt(20, ttt);
    }

    static Pdu taskManagementResponse(int itt, int response) {
        Pdu p = Pdu.of(Opcode.TASK_MGMT_RESPONSE, false, null);
        p.flags(0x80);
        p.byteAt(2, response);
        return p.intAt(16, itt);
    }

    static Pdu logoutResponse(int itt, int response) {
        Pdu p = Pdu.of(Opcode.LOGOUT_RESPONSE, false, null);
        p.flags(0x80);
        p.byteAt(2, response);
        return p.intAt(16, itt);
    }

    /** Reject: the offending header goes back as the data segment (RFC 7143 11.17). */
    static Pdu reject(int reason, ByteBuf offendingHeader) {
        Pdu p = Pdu.of(Opcode.REJECT, false, offendingHeader);
        p.flags(0x80);
        p.byteAt(2, reason);
        return p.intAt(16, RESERVED);
    }

    static int intAt(byte[] b, int i) {
        return ((b[i] & 0xff) << 24) | ((b[i + 1] & 0xff) << 16) | ((b[i + 2] & 0xff) << 8) | (b[i + 3] & 0xff);
    }
}
