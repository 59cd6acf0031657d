package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.UUID;

/**
 * The 512-byte VHD footer (the hard disk footer of the specification), at the end of every VHD and, for
 * dynamic and differencing disks, copied at offset 0. All fields are big-endian.
 */
public record VhdFooter(int features, int formatVersion, long dataOffset, int timestamp, String creatorApp,
                        int creatorVersion, String creatorHostOs, long originalSize, long currentSize,
                        int geometry, DiskType diskType, byte[] uniqueId, boolean savedState) {

    public static final int SIZE = 512;
    public static final long NO_DATA_OFFSET = 0xFFFF_FFFF_FFFF_FFFFL;
    static final byte[] COOKIE = "conectix".getBytes(StandardCharsets.US_ASCII);
    static final int CHECKSUM_OFFSET = 64;
    /**
     * Our creator application: blktap's. QEMU sizes images by their CHS geometry (which rounds the size down)
     * unless it knows the creator writes exact current sizes; "tap\0" (XenServer) is one it knows.
     */
    static final String CREATOR = "tap\0";
    /** The format's limit (2040 GiB): the largest disk its geometry and Virtual PC's BAT handle. */
    public static final long MAX_SIZE = 2040L << 30;

    public VhdFooter {
        uniqueId = uniqueId.clone();
    }

    @Override
    public byte[] uniqueId() {
        return uniqueId.clone();
    }

    public UUID uuid() {
        ByteBuffer b = ByteBuffer.wrap(uniqueId);
        return new UUID(b.getLong(), b.getLong());
    }

    static byte[] uuidBytes(UUID u) {
        return ByteBuffer.allocate(16).putLong(u.getMostSignificantBits()).putLong(u.getLeastSignificantBits()).array();
    }

    /** A new footer for a disk of {@code size} bytes; {@code dataOffset} is 512 for sparse disks. */
    public static VhdFooter create(DiskType type, long size, UUID uuid) {
        return new VhdFooter(2, 0x0001_0000, type.sparse() ? 512 : NO_DATA_OFFSET, VhdTime.now(), CREATOR,
                0x0001_0000, "Wi2k", size, size, geometry(size), type, uuidBytes(uuid), false);
    }

    public VhdFooter withCurrentSize(long size) {
        return new VhdFooter(features, formatVersion, dataOffset, timestamp, creatorApp, creatorVersion,
                creatorHostOs, originalSize, size, geometry(size), diskType, uniqueId, savedState);
    }

    /** Is this sector a footer at all (cookie only; {@link #parse} checks the rest)? */
    public static boolean hasCookie(byte[] sector) {
        return sector.length >= SIZE && Arrays.equals(sector, 0, 8, COOKIE, 0, 8);
    }

    /** Parses and validates a footer; {@code where} names it in errors. */
    public static VhdFooter parse(byte[] s, String where) throws BlockDeviceException {
        if (s.length < SIZE) {
            throw new BlockDeviceException(BlockError.EIO, where + ": VHD footer truncated (" + s.length + " bytes)");
        }
        if (!hasCookie(s)) {
            throw new BlockDeviceException(BlockError.EIO, where + ": no VHD footer (cookie 'conectix' missing)");
        }
        ByteBuffer b = ByteBuffer.wrap(s, 0, SIZE);
        int stored = b.getInt(CHECKSUM_OFFSET);
        int computed = VhdChecksum.compute(s, 0, SIZE, CHECKSUM_OFFSET);
        if (stored != computed) {
            throw new BlockDeviceException(BlockError.EIO, where + ": VHD footer checksum mismatch (stored "
                    + Integer.toHexString(stored) + ", computed " + Integer.toHexString(computed) + ")");
        }
        DiskType type = DiskType.of(b.getInt(60), where);
        long current = b.getLong(48);
        if (current < 0) {
            throw new BlockDeviceException(BlockError.EIO, where + ": VHD footer gives a negative disk size");
        }
        long dataOffset = b.getLong(16);
        if (type.sparse() && (dataOffset < 512 || dataOffset % 512 != 0 || dataOffset > (1L << 50))) {
            throw new BlockDeviceException(BlockError.EIO, where + ": VHD footer has a bad dynamic header offset "
                    + dataOffset);
        }
        return new VhdFooter(b.getInt(8), b.getInt(12), dataOffset, b.getInt(24), ascii(s, 28), b.getInt(32),
                ascii(s, 36), b.getLong(40), current, b.getInt(56), type, Arrays.copyOfRange(s, 68, 84),
                s[84] != 0);
    }

    private static String ascii(byte[] s, int off) {
        return new String(s, off, 4, StandardCharsets.ISO_8859_1);
    }

    public byte[] encode() {
        byte[] s = new byte[SIZE];
        ByteBuffer b = ByteBuffer.wrap(s);
        b.put(COOKIE).putInt(features).putInt(formatVersion).putLong(dataOffset).putInt(timestamp);
        b.put(Arrays.copyOf(creatorApp.getBytes(StandardCharsets.ISO_8859_1), 4)).putInt(creatorVersion);
        b.put(Arrays.copyOf(creatorHostOs.getBytes(StandardCharsets.ISO_8859_1), 4));
        b.putLong(originalSize).putLong(currentSize).putInt(geometry).putInt(diskType.code());
        b.putInt(0).put(uniqueId).put((byte) (savedState ? 1 : 0));
        b.putInt(CHECKSUM_OFFSET, VhdChecksum.compute(s, 0, SIZE, CHECKSUM_OFFSET));
        return s;
    }

    /** Cylinders, heads and sectors per track as the specification's appendix computes them. */
    static int geometry(long size) {
        long total = size / 512;
        if (total > 65535L * 16 * 255) {
            total = 65535L * 16 * 255;
        }
        long spt;
        long heads;
        long cth;
        if (total >= 65535L * 16 * 63) {
            spt = 255;
            heads = 16;
            cth = total / spt;
        } else {
            spt = 17;
            cth = total / spt;
            heads = (cth + 1023) / 1024;
            if (heads < 4) {
                heads = 4;
            }
            if (cth >= heads * 1024 || heads > 16) {
                spt = 31;
                heads = 16;
                cth = total / spt;
            }
            if (cth >= heads * 1024) {
                spt = 63;
                heads = 16;
                cth = total / spt;
            }
        }
        long cyl = cth / heads;
        return (int) ((cyl << 16) | (heads << 8) | spt);
    }

    @Override
    public String toString() {
        return "VhdFooter[" + diskType + ", size=" + currentSize + ", creator=" + creatorApp.trim() + ", uuid="
                + HexFormat.of().formatHex(uniqueId) + "]";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VhdFooter f && Arrays.equals(encode(), f.encode());
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(uniqueId);
    }
}
