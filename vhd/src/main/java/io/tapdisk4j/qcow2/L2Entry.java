package io.tapdisk4j.qcow2;

/**
 * The bits of L1 and L2 entries (docs/interop/qcow2.txt). A standard L2 entry is a host cluster offset with
 * the flags COPIED (refcount exactly 1) and, in version 3, ZERO (reads as zeroes); a compressed one holds a
 * byte offset and a sector count instead. With extended L2 entries a second word holds, per subcluster, an
 * "allocated" bit (low 32) and a "reads as zeroes" bit (high 32).
 */
final class L2Entry {

    static final long COPIED = 1L << 63;
    static final long COMPRESSED = 1L << 62;
    static final long ZERO = 1L;
    /** Bits 9..55: the cluster offset in L1 entries and standard L2 entries. */
    static final long OFFSET_MASK = 0x00FF_FFFF_FFFF_FE00L;
    static final int SUBCLUSTERS = 32;
    static final long ALL_ALLOCATED = 0xFFFF_FFFFL;

    private L2Entry() {
    }

    static boolean compressed(long e) {
        return (e & COMPRESSED) != 0;
    }

    static long offset(long e) {
        return e & OFFSET_MASK;
    }

    /** Standard entries: bit 0 says zero (version 3); extended ones use their bitmap instead. */
    static boolean zeroFlag(long e) {
        return (e & ZERO) != 0;
    }

    /** Bits 1..8 and 56..61 of a standard entry must be clear. */
    static boolean reservedBitsSet(long e) {
        return !compressed(e) && (e & 0x3F00_0000_0000_01FEL) != 0;
    }

    /** The byte offset of a compressed cluster's data. */
    static long compressedOffset(long e, int clusterBits) {
        int x = 62 - (clusterBits - 8);
        return e & ((1L << x) - 1);
    }

    /** Bytes to read for a compressed cluster: whole 512-byte sectors from its offset's sector. */
    static long compressedLength(long e, int clusterBits) {
        int x = 62 - (clusterBits - 8);
        long sectors = ((e & ~COMPRESSED & ~COPIED) >>> x) + 1;
        return sectors * 512 - (compressedOffset(e, clusterBits) & 511);
    }

    static boolean subAllocated(long bitmap, int sub) {
        return (bitmap & (1L << sub)) != 0;
    }

    static boolean subZero(long bitmap, int sub) {
        return (bitmap & (1L << (sub + 32))) != 0;
    }
}
