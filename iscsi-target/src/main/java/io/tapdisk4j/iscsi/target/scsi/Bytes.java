package io.tapdisk4j.iscsi.target.scsi;

/** Big-endian fields of CDBs and parameter data (SCSI is big-endian throughout). */
public final class Bytes {

    private Bytes() {
    }

    public static int u8(byte[] b, int i) {
        return b[i] & 0xff;
    }

    public static int u16(byte[] b, int i) {
        return ((b[i] & 0xff) << 8) | (b[i + 1] & 0xff);
    }

    public static int u24(byte[] b, int i) {
        return ((b[i] & 0xff) << 16) | u16(b, i + 1);
    }

    public static long u32(byte[] b, int i) {
        return ((long) (b[i] & 0xff) << 24) | ((b[i + 1] & 0xff) << 16) | ((b[i + 2] & 0xff) << 8) | (b[i + 3] & 0xff);
    }

    public static long u64(byte[] b, int i) {
        return (u32(b, i) << 32) | u32(b, i + 4);
    }

    public static void putShort(byte[] b, int i, int v) {
        b[i] = (byte) (v >>> 8);
        b[i + 1] = (byte) v;
    }

    public static void putInt(byte[] b, int i, int v) {
        b[i] = (byte) (v >>> 24);
        b[i + 1] = (byte) (v >>> 16);
        b[i + 2] = (byte) (v >>> 8);
        b[i + 3] = (byte) v;
    }

    public static void putLong(byte[] b, int i, long v) {
        putInt(b, i, (int) (v >>> 32));
        putInt(b, i + 4, (int) v);
    }

    public static void putAscii(byte[] b, int i, int width, String s) {
        for (int k = 0; k < width; k++) {
            b[i + k] = (byte) (k < s.length() ? s.charAt(k) : ' ');
        }
    }
}
