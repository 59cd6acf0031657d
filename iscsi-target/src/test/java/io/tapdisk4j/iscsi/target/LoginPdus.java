package io.tapdisk4j.iscsi.target;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.text.LoginException;
import io.tapdisk4j.iscsi.text.TextParameters;

/** Initiator-side PDUs for the target's tests, built by hand from RFC 7143's layouts. */
final class LoginPdus {

    static final String INITIATOR = "iqn.2026-12.io.tapdisk4j.test:initiator";
    static final byte[] ISID = {(byte) 0x80, 1, 2, 3, 4, 5};

    private LoginPdus() {
    }

    static Pdu login(boolean transit, int csg, int nsg, int cmdSN, int expStatSN, TextParameters text) {
        return login(ISID, 0, transit, csg, nsg, cmdSN, expStatSN, text);
    }

    static Pdu login(byte[] isid, int tsih, boolean transit, int csg, int nsg, int cmdSN, int expStatSN,
                     TextParameters text) {
        Pdu p = Pdu.of(Opcode.LOGIN_REQUEST, true, text.encode(ByteBufAllocator.DEFAULT));
        p.flags((transit ? 0x80 : 0) | (csg << 2) | (transit ? nsg : 0));
        System.arraycopy(isid, 0, p.bhs(), 8, 6);
        return p.shortAt(14, tsih).intAt(16, 0x1000 + cmdSN).intAt(24, cmdSN).intAt(28, expStatSN);
    }

    static TextParameters text(Pdu response) throws LoginException {
        ByteBuf d = response.data();
        byte[] b = new byte[d.readableBytes()];
        d.getBytes(d.readerIndex(), b);
        return TextParameters.decode(b);
    }

    static Pdu command(int itt, int cmdSN, byte[] cdb, boolean read, boolean write, int expected, boolean finalBit,
                       ByteBuf immediate) {
        Pdu p = Pdu.of(Opcode.SCSI_COMMAND, false, immediate == null ? Unpooled.EMPTY_BUFFER : immediate);
        p.flags((finalBit ? 0x80 : 0) | (read ? 0x40 : 0) | (write ? 0x20 : 0) | 1);
        p.intAt(16, itt).intAt(20, expected).intAt(24, cmdSN);
        System.arraycopy(cdb, 0, p.bhs(), 32, cdb.length);
        return p;
    }

    static Pdu dataOut(int itt, int ttt, int dataSN, int offset, boolean finalBit, ByteBuf data) {
        Pdu p = Pdu.of(Opcode.DATA_OUT, false, data);
        p.flags(finalBit ? 0x80 : 0);
        return p.intAt(16, itt).intAt(20, ttt).intAt(36, dataSN).intAt(40, offset);
    }

    static byte[] read10(long lba, int blocks) {
        return new byte[] {0x28, 0, (byte) (lba >>> 24), (byte) (lba >>> 16), (byte) (lba >>> 8), (byte) lba, 0,
                (byte) (blocks >>> 8), (byte) blocks, 0};
    }

    static byte[] write10(long lba, int blocks) {
        byte[] c = read10(lba, blocks);
        c[0] = 0x2a;
        return c;
    }
}
