package io.tapdisk4j.iscsi.scsi;

import io.netty.buffer.ByteBuf;

/**
 * Decoded sense data (SPC-5 4.4): fixed (0x70/0x71) or descriptor (0x72/0x73) format. Garbage decodes to
 * {@link #UNKNOWN} rather than an exception: the status already says the command failed.
 */
public record Sense(int key, int asc, int ascq, boolean deferred) {

    public static final int NO_SENSE = 0x0;
    public static final int RECOVERED_ERROR = 0x1;
    public static final int NOT_READY = 0x2;
    public static final int MEDIUM_ERROR = 0x3;
    public static final int HARDWARE_ERROR = 0x4;
    public static final int ILLEGAL_REQUEST = 0x5;
    public static final int UNIT_ATTENTION = 0x6;
    public static final int DATA_PROTECT = 0x7;
    public static final int ABORTED_COMMAND = 0xb;
    public static final int MISCOMPARE = 0xe;

    public static final Sense UNKNOWN = new Sense(-1, 0, 0, false);

    /** Sense data as carried in a SCSI Response data segment: 2-byte SenseLength, then the sense bytes. */
    public static Sense fromResponseSegment(ByteBuf segment) {
        if (segment.readableBytes() < 2) {
            return UNKNOWN;
        }
        int length = segment.getUnsignedShort(segment.readerIndex());
        int available = Math.min(length, segment.readableBytes() - 2);
        byte[] sense = new byte[available];
        segment.getBytes(segment.readerIndex() + 2, sense);
        return parse(sense);
    }

    public static Sense parse(byte[] s) {
        if (s.length < 1) {
            return UNKNOWN;
        }
        int code = s[0] & 0x7f;
        switch (code) {
            case 0x70, 0x71 -> {
                if (s.length < 3) {
                    return UNKNOWN;
                }
                int key = s[2] & 0x0f;
                int asc = s.length > 12 ? s[12] & 0xff : 0;
                int ascq = s.length > 13 ? s[13] & 0xff : 0;
                return new Sense(key, asc, ascq, code == 0x71);
            }
            case 0x72, 0x73 -> {
                if (s.length < 4) {
                    return UNKNOWN;
                }
                return new Sense(s[1] & 0x0f, s[2] & 0xff, s[3] & 0xff, code == 0x73);
            }
            default -> {
                return UNKNOWN;
            }
        }
    }

    public boolean unitAttention() {
        return key == UNIT_ATTENTION;
    }

    /** ASC 0x21 ASCQ 0x00: LOGICAL BLOCK ADDRESS OUT OF RANGE. */
    public boolean lbaOutOfRange() {
        return key == ILLEGAL_REQUEST && asc == 0x21 && ascq == 0x00;
    }

    /** ASC 0x20/0x24: INVALID COMMAND OPERATION CODE, INVALID FIELD IN CDB. */
    public boolean unsupportedCommand() {
        return key == ILLEGAL_REQUEST && (asc == 0x20 || asc == 0x24);
    }

    public static String keyName(int key) {
        return switch (key) {
            case NO_SENSE -> "NO SENSE";
            case RECOVERED_ERROR -> "RECOVERED ERROR";
            case NOT_READY -> "NOT READY";
            case MEDIUM_ERROR -> "MEDIUM ERROR";
            case HARDWARE_ERROR -> "HARDWARE ERROR";
            case ILLEGAL_REQUEST -> "ILLEGAL REQUEST";
            case UNIT_ATTENTION -> "UNIT ATTENTION";
            case DATA_PROTECT -> "DATA PROTECT";
            case 0x8 -> "BLANK CHECK";
            case 0x9 -> "VENDOR SPECIFIC";
            case 0xa -> "COPY ABORTED";
            case ABORTED_COMMAND -> "ABORTED COMMAND";
            case 0xd -> "VOLUME OVERFLOW";
            case MISCOMPARE -> "MISCOMPARE";
            default -> "sense key " + key;
        };
    }

    @Override
    public String toString() {
        if (key < 0) {
            return "no usable sense data";
        }
        String what = switch ((asc << 8) | ascq) {
            case 0x2100 -> "logical block address out of range";
            case 0x2000 -> "invalid command operation code";
            case 0x2400 -> "invalid field in CDB";
            case 0x2600 -> "invalid field in parameter list";
            case 0x2900 -> "power on, reset, or bus device reset occurred";
            case 0x2a09 -> "capacity data has changed";
            case 0x3f0e -> "reported LUNs data has changed";
            case 0x2500 -> "logical unit not supported";
            case 0x2700 -> "write protected";
            case 0x0401 -> "logical unit is in process of becoming ready";
            case 0x3a00 -> "medium not present";
            case 0x1100 -> "unrecovered read error";
            case 0x0c00 -> "write error";
            default -> String.format("ASC 0x%02x ASCQ 0x%02x", asc, ascq);
        };
        return keyName(key) + ": " + what;
    }
}
