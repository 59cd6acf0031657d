package io.tapdisk4j.iscsi.target.scsi;

/** Sense data (SPC-4 4.5): fixed format (70h) or descriptor format (72h, when D_SENSE is set). */
public final class Sense {

    public static final int NO_SENSE = 0x0;
    public static final int NOT_READY = 0x2;
    public static final int MEDIUM_ERROR = 0x3;
    public static final int ILLEGAL_REQUEST = 0x5;
    public static final int UNIT_ATTENTION = 0x6;
    public static final int DATA_PROTECT = 0x7;
    public static final int ABORTED_COMMAND = 0xb;
    public static final int MISCOMPARE = 0xe;

    private Sense() {
    }

    /** {@code information} below 0: no INFORMATION field. */
    public static byte[] build(boolean descriptor, int key, int asc, int ascq, long information) {
        if (descriptor) {
            boolean info = information >= 0;
            byte[] s = new byte[8 + (info ? 12 : 0)];
            s[0] = 0x72;
            s[1] = (byte) key;
            s[2] = (byte) asc;
            s[3] = (byte) ascq;
            s[7] = (byte) (info ? 12 : 0);
            if (info) {
                s[8] = 0x00; // information descriptor
                s[9] = 0x0a;
                s[10] = (byte) 0x80; // VALID
                Bytes.putLong(s, 12, information);
            }
            return s;
        }
        byte[] s = new byte[18];
        s[0] = (byte) (0x70 | (information >= 0 ? 0x80 : 0));
        s[2] = (byte) key;
        if (information >= 0) {
            Bytes.putInt(s, 3, (int) information);
        }
        s[7] = 10;
        s[12] = (byte) asc;
        s[13] = (byte) ascq;
        return s;
    }
}
