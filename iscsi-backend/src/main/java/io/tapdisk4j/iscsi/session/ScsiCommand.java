package io.tapdisk4j.iscsi.session;

import io.netty.buffer.ByteBuf;

/**
 * One SCSI command to run on a LUN. {@code writeData} (for data-out commands) is a dom0 buffer whose one
 * reference the session takes over: it is kept, and sent again after a reconnect, until the command
 * finally succeeds or fails. {@code readLength}: bytes of data-in expected.
 */
public record ScsiCommand(int lun, byte[] cdb, int readLength, ByteBuf writeData) {

    public static ScsiCommand noData(int lun, byte[] cdb) {
        return new ScsiCommand(lun, cdb, 0, null);
    }

    public static ScsiCommand read(int lun, byte[] cdb, int length) {
        return new ScsiCommand(lun, cdb, length, null);
    }

    public static ScsiCommand write(int lun, byte[] cdb, ByteBuf data) {
        return new ScsiCommand(lun, cdb, 0, data);
    }

    public int writeLength() {
        return writeData == null ? 0 : writeData.readableBytes();
    }

    public int opcode() {
        return cdb[0] & 0xff;
    }
}
