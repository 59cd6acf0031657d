package io.tapdisk4j.iscsi.session;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.iscsi.login.SessionParameters;
import io.tapdisk4j.iscsi.pdu.InitiatorPdus;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.scsi.LunEncoding;

import java.util.function.Consumer;

/**
 * Sends a command and its write data (RFC 7143 3.2.4.2, 11.7): immediate data in the SCSI Command PDU up to
 * FirstBurstLength and MaxXmitDataSegmentLength, then unsolicited Data-Out up to FirstBurstLength unless
 * InitialR2T, then a sequence of Data-Out for each R2T. Data travels as slices of the command's own buffer.
 */
final class DataOutSender {

    private final Consumer<Pdu> out;

    DataOutSender(Consumer<Pdu> out) {
        this.out = out;
    }

    /** Sends {@code t}'s SCSI Command PDU (its tag and CmdSN already set) and any unsolicited data. */
    void sendCommand(Task t, SessionParameters p, int expStatSN) {
        ScsiCommand c = t.command;
        long lun = LunEncoding.encode(c.lun());
        ByteBuf data = c.writeData();
        int direction = 0;
        int expected = 0;
        ByteBuf immediate = null;
        int immediateLength = 0;
        int unsolicitedEnd = 0;
        if (c.readLength() > 0) {
            direction = InitiatorPdus.READ;
            expected = c.readLength();
        } else if (data != null && data.readableBytes() > 0) {
            direction = InitiatorPdus.WRITE;
            expected = data.readableBytes();
            int firstBurst = Math.min(expected, p.firstBurstLength());
            if (p.immediateData()) {
                immediateLength = Math.min(firstBurst, p.maxXmitDataSegmentLength());
                immediate = data.retainedSlice(data.readerIndex(), immediateLength);
            }
            unsolicitedEnd = p.initialR2T() ? immediateLength : firstBurst;
        }
        boolean unsolicitedDataOut = unsolicitedEnd > immediateLength;
        out.accept(InitiatorPdus.scsiCommand(lun, t.itt, t.cmdSN, expStatSN, c.cdb(), direction, expected,
                !unsolicitedDataOut, immediate));
        if (unsolicitedDataOut) {
            sendBurst(t, p, Pdu.RESERVED_TAG, immediateLength, unsolicitedEnd - immediateLength, expStatSN);
        }
    }

    /**
     * Answers an R2T for {@code t}; returns null, or what is wrong with it (an R2T outside the write, or for
     * a command that writes nothing), in which case nothing is sent.
     */
    String onR2T(Task t, Pdu r2t, SessionParameters p, int expStatSN) {
        int offset = r2t.bufferOffset();
        int length = r2t.residualOrDesiredLength();
        if (t.command.writeData() == null || offset < 0 || length <= 0
                || (long) offset + length > t.command.writeLength()) {
            return "R2T for " + length + " bytes at offset " + offset + " of a " + t.command.writeLength()
                    + "-byte write";
        }
        sendBurst(t, p, r2t.targetTransferTag(), offset, length, expStatSN);
        return null;
    }

    /** One sequence of Data-Out PDUs of at most MaxXmitDataSegmentLength each, the last with the F bit. */
    private void sendBurst(Task t, SessionParameters p, int ttt, int offset, int length, int expStatSN) {
        ByteBuf data = t.command.writeData();
        long lun = LunEncoding.encode(t.command.lun());
        int mx = p.maxXmitDataSegmentLength();
        int end = offset + length;
        int dataSN = 0;
        while (offset < end) {
            int n = Math.min(mx, end - offset);
            boolean last = offset + n == end;
            out.accept(InitiatorPdus.dataOut(lun, t.itt, ttt, expStatSN, dataSN++, offset, last,
                    data.retainedSlice(data.readerIndex() + offset, n)));
            offset += n;
        }
    }
}
