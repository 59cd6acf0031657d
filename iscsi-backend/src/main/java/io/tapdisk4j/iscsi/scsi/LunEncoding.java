package io.tapdisk4j.iscsi.scsi;

/** The 8-byte LUN field of SAM-5 4.7: peripheral addressing below 256, flat space addressing up to 16383. */
public final class LunEncoding {

    private LunEncoding() {
    }

    public static long encode(int lun) {
        if (lun < 0 || lun > 0x3fff) {
            throw new IllegalArgumentException("LUN " + lun + " out of range 0..16383");
        }
        if (lun < 256) {
            return (long) lun << 48;
        }
        return ((long) (0x4000 | lun)) << 48;
    }

    public static int decode(long field) {
        int first = (int) (field >>> 48) & 0xffff;
        int method = first >>> 14;
        return method == 0 ? (first >> 8) == 0 ? first & 0xff : first & 0x3fff : first & 0x3fff;
    }
}
