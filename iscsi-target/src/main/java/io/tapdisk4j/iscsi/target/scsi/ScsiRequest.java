package io.tapdisk4j.iscsi.target.scsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * One command for the logical unit: its CDB, the Data-Out that came with it (empty for none; the request
 * owns one reference, which the handler passes on or releases) and the I_T nexus that sent it.
 */
public record ScsiRequest(byte[] cdb, ByteBuf dataOut, Nexus nexus) {

    public ScsiRequest {
        if (dataOut == null) {
            dataOut = Unpooled.EMPTY_BUFFER;
        }
    }

    public int opcode() {
        return cdb[0] & 0xff;
    }
}
