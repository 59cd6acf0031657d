package io.tapdisk4j.iscsi.target.scsi;

import io.tapdisk4j.iscsi.scsi.ScsiStatus;

/** A command that ends in CHECK CONDITION (or RESERVATION CONFLICT): the sense to report. */
public final class ScsiException extends RuntimeException {

    private final int status;
    private final int key;
    private final int asc;
    private final int ascq;
    /** INFORMATION field (VALID bit set) or -1. */
    private final long information;

    public ScsiException(int key, int asc, int ascq, String message) {
        this(ScsiStatus.CHECK_CONDITION, key, asc, ascq, -1, message);
    }

    private ScsiException(int status, int key, int asc, int ascq, long information, String message) {
        super(message, null, false, false);
        this.status = status;
        this.key = key;
        this.asc = asc;
        this.ascq = ascq;
        this.information = information;
    }

    public static ScsiException invalidOpcode(int opcode) {
        return new ScsiException(Sense.ILLEGAL_REQUEST, 0x20, 0x00, String.format("opcode 0x%02x not supported", opcode));
    }

    public static ScsiException invalidFieldInCdb(String what) {
        return new ScsiException(Sense.ILLEGAL_REQUEST, 0x24, 0x00, "invalid field in CDB: " + what);
    }

    public static ScsiException invalidFieldInParameters(String what) {
        return new ScsiException(Sense.ILLEGAL_REQUEST, 0x26, 0x00, "invalid field in parameter list: " + what);
    }

    public static ScsiException parameterListLength(String what) {
        return new ScsiException(Sense.ILLEGAL_REQUEST, 0x1a, 0x00, "parameter list length error: " + what);
    }

    public static ScsiException lbaOutOfRange(long lba, long blocks) {
        return new ScsiException(Sense.ILLEGAL_REQUEST, 0x21, 0x00, "LBA " + lba + " + " + blocks + " out of range");
    }

    public static ScsiException writeProtected() {
        return new ScsiException(Sense.DATA_PROTECT, 0x27, 0x00, "logical unit is read-only");
    }

    public static ScsiException miscompare(long offset) {
        return new ScsiException(ScsiStatus.CHECK_CONDITION, Sense.MISCOMPARE, 0x1d, 0x00, offset, "miscompare at byte " + offset);
    }

    public static ScsiException mediumError(String what) {
        return new ScsiException(Sense.MEDIUM_ERROR, 0x11, 0x00, "unrecovered read error: " + what);
    }

    public static ScsiException writeError(String what) {
        return new ScsiException(Sense.MEDIUM_ERROR, 0x0c, 0x00, "write error: " + what);
    }

    public static ScsiException reservationConflict() {
        return new ScsiException(ScsiStatus.RESERVATION_CONFLICT, 0, 0, 0, -1, "reservation conflict");
    }

    public ScsiResult toResult(boolean descriptorSense) {
        if (status == ScsiStatus.RESERVATION_CONFLICT) {
            return ScsiResult.status(status);
        }
        return ScsiResult.checkCondition(Sense.build(descriptorSense, key, asc, ascq, information));
    }

    public int key() {
        return key;
    }

    public int asc() {
        return asc;
    }

    public int ascq() {
        return ascq;
    }
}
