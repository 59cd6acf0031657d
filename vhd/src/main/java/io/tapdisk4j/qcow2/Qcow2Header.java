package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A qcow2 header (version 2 or 3) with its extensions, parsed and checked before anything in it is trusted.
 * Big-endian; the layout is QEMU's docs/interop/qcow2.txt. Version 2 images are read with version 3's
 * defaults (16-bit refcounts, no feature bits).
 */
public record Qcow2Header(int version, long backingFileOffset, int backingFileSize, int clusterBits, long size,
                          int cryptMethod, int l1Size, long l1TableOffset, long refcountTableOffset,
                          int refcountTableClusters, int nbSnapshots, long snapshotsOffset,
                          long incompatible, long compatible, long autoclear, int refcountOrder, int headerLength,
                          int compressionType, String backingFormat, List<Extension> unknownExtensions,
                          List<String> featureNames) {

    public static final int MAGIC = 0x514649fb;
    public static final int V3_LENGTH = 112;
    public static final long INCOMPAT_DIRTY = 1;
    public static final long INCOMPAT_CORRUPT = 1 << 1;
    public static final long INCOMPAT_DATA_FILE = 1 << 2;
    public static final long INCOMPAT_COMPRESSION = 1 << 3;
    public static final long INCOMPAT_EXTL2 = 1 << 4;
    public static final long COMPAT_LAZY_REFCOUNTS = 1;
    static final int EXT_END = 0;
    static final int EXT_BACKING_FORMAT = 0xE2792ACA;
    static final int EXT_FEATURE_TABLE = 0x6803f857;
    /** Largest L1 table QEMU accepts (32 MiB), and so do we: it bounds what a hostile header makes us read. */
    static final long MAX_L1_BYTES = 32L << 20;
    /** Largest refcount table QEMU accepts (8 MiB). */
    static final long MAX_REFTABLE_BYTES = 8L << 20;
    /** Virtual sizes beyond 2^61 overflow QEMU's arithmetic; we stop far below, at 1 PiB. */
    public static final long MAX_SIZE = 1L << 50;

    /** A header extension this code does not interpret, kept as it was. */
    public record Extension(int type, byte[] data) {
    }

    public int clusterSize() {
        return 1 << clusterBits;
    }

    public boolean extendedL2() {
        return (incompatible & INCOMPAT_EXTL2) != 0;
    }

    /** L2 entries per table: 8 bytes each, 16 with extended L2. */
    public int l2Entries() {
        return clusterSize() / (extendedL2() ? 16 : 8);
    }

    /** Bytes of virtual disk one L2 table maps. */
    public long l2Coverage() {
        return (long) l2Entries() * clusterSize();
    }

    public int refcountBits() {
        return 1 << refcountOrder;
    }

    /** Refcount entries per refcount block. */
    public long refblockEntries() {
        return (long) clusterSize() * 8 / refcountBits();
    }

    public boolean dirty() {
        return (incompatible & INCOMPAT_DIRTY) != 0;
    }

    /** L1 entries needed for {@code size} bytes. */
    public static long l1EntriesFor(long size, int clusterBits, boolean extendedL2) {
        long coverage = (1L << clusterBits) / (extendedL2 ? 16 : 8) * (1L << clusterBits);
        return (size + coverage - 1) / coverage;
    }

    static Qcow2Header parse(byte[] b, String where) throws BlockDeviceException {
        ByteBuffer h = ByteBuffer.wrap(b);
        if (b.length < 72 || h.getInt(0) != MAGIC) {
            throw bad(where, "not a qcow2 image (no QFI\\xfb magic)");
        }
        int version = h.getInt(4);
        if (version != 2 && version != 3) {
            throw bad(where, "qcow2 version " + version + " is not supported (2 and 3 are)");
        }
        int clusterBits = h.getInt(20);
        if (clusterBits < 9 || clusterBits > 21) {
            throw bad(where, "cluster size 2^" + clusterBits + " is outside 512 B..2 MiB");
        }
        long incompatible = 0;
        long compatible = 0;
        long autoclear = 0;
        int refcountOrder = 4;
        int headerLength = 72;
        int compressionType = 0;
        if (version == 3) {
            incompatible = h.getLong(72);
            compatible = h.getLong(80);
            autoclear = h.getLong(88);
            refcountOrder = h.getInt(96);
            headerLength = h.getInt(100);
            if (headerLength < 104 || headerLength > (1 << clusterBits) || headerLength % 8 != 0
                    && headerLength != 104) {
                throw bad(where, "header length " + headerLength + " is invalid");
            }
            if (refcountOrder < 0 || refcountOrder > 6) {
                throw bad(where, "refcount order " + refcountOrder + " is invalid (0..6)");
            }
            if (headerLength > 104) {
                compressionType = b[104] & 0xFF;
            }
        }
        long size = h.getLong(24);
        if (size < 0 || size > MAX_SIZE) {
            throw bad(where, "virtual size " + Long.toUnsignedString(size) + " bytes is beyond the 1 PiB we accept");
        }
        int l1Size = h.getInt(36);
        long l1Offset = h.getLong(40);
        long cluster = 1L << clusterBits;
        boolean ext = (incompatible & INCOMPAT_EXTL2) != 0;
        if (ext && clusterBits < 14) {
            throw bad(where, "extended L2 entries need clusters of 16 KiB or more");
        }
        long needed = l1EntriesFor(size, clusterBits, ext);
        if (l1Size < 0 || (long) l1Size * 8 > MAX_L1_BYTES) {
            throw bad(where, "L1 table of " + Integer.toUnsignedString(l1Size) + " entries is too large");
        }
        if (l1Size < needed) {
            throw bad(where, "L1 table has " + l1Size + " entries but the disk size needs " + needed);
        }
        if (l1Offset % cluster != 0 || l1Offset <= 0 && l1Size > 0) {
            throw bad(where, "L1 table offset " + l1Offset + " is not cluster aligned");
        }
        long refOffset = h.getLong(48);
        int refClusters = h.getInt(56);
        if (refOffset <= 0 || refOffset % cluster != 0) {
            throw bad(where, "refcount table offset " + refOffset + " is not cluster aligned");
        }
        if (refClusters <= 0 || (long) refClusters * cluster > MAX_REFTABLE_BYTES) {
            throw bad(where, "refcount table of " + Integer.toUnsignedString(refClusters) + " clusters is invalid");
        }
        long backingOffset = h.getLong(8);
        int backingSize = h.getInt(16);
        if (backingOffset != 0 && (backingSize <= 0 || backingSize > 1023 || backingOffset < 0
                || backingOffset + backingSize > cluster)) {
            throw bad(where, "backing file name (" + backingSize + " bytes at " + backingOffset
                    + ") must lie in the first cluster and be 1..1023 bytes");
        }
        int nbSnapshots = h.getInt(60);
        long snapshotsOffset = h.getLong(64);
        if (nbSnapshots < 0 || nbSnapshots > 65536 || nbSnapshots > 0 && (snapshotsOffset <= 0
                || snapshotsOffset % cluster != 0)) {
            throw bad(where, "snapshot table (" + Integer.toUnsignedString(nbSnapshots) + " at " + snapshotsOffset
                    + ") is invalid");
        }
        String backingFormat = null;
        List<Extension> unknown = new ArrayList<>();
        List<String> names = new ArrayList<>();
        int p = headerLength;
        while (version == 3 && p + 8 <= b.length) {
            int type = h.getInt(p);
            int len = h.getInt(p + 4);
            if (type == EXT_END) {
                break;
            }
            if (len < 0 || p + 8L + len > b.length || (backingOffset != 0 && p + 8L + len > backingOffset)) {
                throw bad(where, "header extension 0x" + Integer.toHexString(type) + " runs past its space");
            }
            byte[] data = new byte[len];
            h.get(p + 8, data);
            if (type == EXT_BACKING_FORMAT) {
                backingFormat = new String(data, StandardCharsets.UTF_8);
            } else if (type == EXT_FEATURE_TABLE) {
                for (int k = 0; k + 48 <= len; k += 48) {
                    int kind = data[k] & 0xFF;
                    int bit = data[k + 1] & 0xFF;
                    String name = new String(data, k + 2, 46, StandardCharsets.UTF_8).replace("\0", "");
                    names.add(kind + ":" + bit + ":" + name);
                }
            } else {
                unknown.add(new Extension(type, data));
            }
            p += 8 + (len + 7) / 8 * 8;
        }
        return new Qcow2Header(version, backingOffset, backingSize, clusterBits, size, h.getInt(32), l1Size, l1Offset,
                refOffset, refClusters, nbSnapshots, snapshotsOffset, incompatible, compatible, autoclear,
                refcountOrder, headerLength, compressionType, backingFormat, List.copyOf(unknown), List.copyOf(names));
    }

    /** The feature name QEMU's table gives an incompatible bit, or "bit N". */
    String incompatibleName(int bit) {
        for (String n : featureNames) {
            String[] parts = n.split(":", 3);
            if (parts[0].equals("0") && parts[1].equals(String.valueOf(bit))) {
                return "'" + parts[2] + "' (bit " + bit + ")";
            }
        }
        return "bit " + bit;
    }

    public Qcow2Header withSize(long newSize, int newL1Size, long newL1Offset) {
        return new Qcow2Header(version, backingFileOffset, backingFileSize, clusterBits, newSize, cryptMethod, newL1Size,
                newL1Offset, refcountTableOffset, refcountTableClusters, nbSnapshots, snapshotsOffset, incompatible,
                compatible, autoclear, refcountOrder, headerLength, compressionType, backingFormat, unknownExtensions,
                featureNames);
    }

    public Qcow2Header withRefcountTable(long offset, int clusters) {
        return new Qcow2Header(version, backingFileOffset, backingFileSize, clusterBits, size, cryptMethod, l1Size,
                l1TableOffset, offset, clusters, nbSnapshots, snapshotsOffset, incompatible, compatible, autoclear,
                refcountOrder, headerLength, compressionType, backingFormat, unknownExtensions, featureNames);
    }

    public Qcow2Header withIncompatible(long bits) {
        return new Qcow2Header(version, backingFileOffset, backingFileSize, clusterBits, size, cryptMethod, l1Size,
                l1TableOffset, refcountTableOffset, refcountTableClusters, nbSnapshots, snapshotsOffset, bits,
                compatible, autoclear, refcountOrder, headerLength, compressionType, backingFormat, unknownExtensions,
                featureNames);
    }

    /** The fixed fields (first 104 or 112 bytes), for rewriting in place; extensions stay where they are. */
    byte[] encodeFixed() {
        int len = version == 3 ? headerLength : 72;
        ByteBuffer h = ByteBuffer.allocate(Math.min(len, V3_LENGTH));
        h.putInt(0, MAGIC).putInt(4, version).putLong(8, backingFileOffset).putInt(16, backingFileSize)
                .putInt(20, clusterBits).putLong(24, size).putInt(32, cryptMethod).putInt(36, l1Size)
                .putLong(40, l1TableOffset).putLong(48, refcountTableOffset).putInt(56, refcountTableClusters)
                .putInt(60, nbSnapshots).putLong(64, snapshotsOffset);
        if (version == 3) {
            h.putLong(72, incompatible).putLong(80, compatible).putLong(88, autoclear).putInt(96, refcountOrder)
                    .putInt(100, headerLength);
            if (h.capacity() > 104) {
                h.put(104, (byte) compressionType);
            }
        }
        return h.array();
    }

    private static BlockDeviceException bad(String where, String what) {
        return new BlockDeviceException(BlockError.EIO, where + ": " + what);
    }
}
