package io.tapdisk4j.vhd;

/**
 * The VHD checksum: the one's complement of the byte sum of a structure, computed with its own checksum
 * field taken as zero (the same rule for the footer and the dynamic header).
 */
public final class VhdChecksum {

    private VhdChecksum() {
    }

    /** The checksum of {@code length} bytes at {@code from}, skipping the 4-byte field at {@code fieldOffset}. */
    public static int compute(byte[] bytes, int from, int length, int fieldOffset) {
        long sum = 0;
        for (int i = 0; i < length; i++) {
            if (i >= fieldOffset && i < fieldOffset + 4) {
                continue;
            }
            sum += bytes[from + i] & 0xff;
        }
        return (int) ~sum;
    }
}
