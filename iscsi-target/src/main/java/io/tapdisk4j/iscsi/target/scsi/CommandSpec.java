package io.tapdisk4j.iscsi.target.scsi;

/**
 * One supported command: opcode, service action (-1: none), CDB length, what it does to the medium (for
 * reservation conflicts) and who executes it. {@code attentionExempt}: reported even while a unit
 * attention is pending (INQUIRY, REPORT LUNS, REQUEST SENSE; SPC-4 5.14).
 */
record CommandSpec(int opcode, int serviceAction, int cdbLength, PersistentReservations.Access access,
                   boolean attentionExempt, CommandHandler handler) {

    /** CDB usage data for REPORT SUPPORTED OPERATION CODES: the bits a client may set in each byte. */
    byte[] usage() {
        byte[] u = new byte[cdbLength];
        u[0] = (byte) opcode;
        for (int i = 1; i < cdbLength - 1; i++) {
            u[i] = (byte) 0xff;
        }
        if (serviceAction >= 0) {
            u[1] = (byte) (0xe0 | serviceAction);
        }
        u[cdbLength - 1] = 0x07;
        return u;
    }
}
