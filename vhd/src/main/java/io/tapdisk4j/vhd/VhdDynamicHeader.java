package io.tapdisk4j.vhd;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;

/**
 * The 1024-byte dynamic disk header of dynamic and differencing VHDs: where the BAT is, the block size,
 * and for differencing disks the parent's identity and locators.
 */
public record VhdDynamicHeader(long tableOffset, int maxTableEntries, int blockSize, byte[] parentUniqueId,
                               int parentTimestamp, String parentName, List<ParentLocator> locators) {

    public static final int SIZE = 1024;
    public static final int DEFAULT_BLOCK_SIZE = 2 << 20;
    static final byte[] COOKIE = "cxsparse".getBytes(StandardCharsets.US_ASCII);
    static final int CHECKSUM_OFFSET = 36;
    static final int LOCATORS_OFFSET = 576;
    /** 16 MiB of BAT covers 4 Mi blocks: far beyond 2040 GiB at any sane block size; refuse anything larger. */
    static final int MAX_TABLE_ENTRIES = 4 << 20;

    public VhdDynamicHeader {
        parentUniqueId = parentUniqueId.clone();
        locators = List.copyOf(locators);
        if (locators.size() != 8) {
            throw new IllegalArgumentException("a dynamic header has 8 locator entries");
        }
    }

    @Override
    public byte[] parentUniqueId() {
        return parentUniqueId.clone();
    }

    public UUID parentUuid() {
        ByteBuffer b = ByteBuffer.wrap(parentUniqueId);
        return new UUID(b.getLong(), b.getLong());
    }

    static VhdDynamicHeader create(long tableOffset, int entries, int blockSize) {
        return new VhdDynamicHeader(tableOffset, entries, blockSize, new byte[16], 0, "",
                java.util.Collections.nCopies(8, ParentLocator.EMPTY));
    }

    VhdDynamicHeader withParent(byte[] uuid, int timestamp, String name, List<ParentLocator> locs) {
        return new VhdDynamicHeader(tableOffset, maxTableEntries, blockSize, uuid, timestamp, name, locs);
    }

    VhdDynamicHeader withTable(long offset, int entries) {
        return new VhdDynamicHeader(offset, entries, blockSize, parentUniqueId, parentTimestamp, parentName, locators);
    }

    /** Bytes of the per-block sector bitmap, padded to whole sectors. */
    public int bitmapBytes() {
        return SectorBitmap.bytesFor(blockSize);
    }

    public static VhdDynamicHeader parse(byte[] h, String where) throws BlockDeviceException {
        if (h.length < SIZE || !Arrays.equals(h, 0, 8, COOKIE, 0, 8)) {
            throw new BlockDeviceException(BlockError.EIO, where + ": no VHD dynamic header (cookie 'cxsparse' missing)");
        }
        ByteBuffer b = ByteBuffer.wrap(h, 0, SIZE);
        int stored = b.getInt(CHECKSUM_OFFSET);
        int computed = VhdChecksum.compute(h, 0, SIZE, CHECKSUM_OFFSET);
        if (stored != computed) {
            throw new BlockDeviceException(BlockError.EIO, where + ": VHD dynamic header checksum mismatch (stored "
                    + Integer.toHexString(stored) + ", computed " + Integer.toHexString(computed) + ")");
        }
        long table = b.getLong(16);
        int entries = b.getInt(28);
        int blockSize = b.getInt(32);
        if (blockSize < 4096 || blockSize > (256 << 20) || Integer.bitCount(blockSize) != 1) {
            throw new BlockDeviceException(BlockError.EIO, where + ": unsupported VHD block size " + Integer.toUnsignedString(blockSize)
                    + " (a power of two from 4 KiB to 256 MiB expected)");
        }
        if (entries < 0 || entries > MAX_TABLE_ENTRIES) {
            throw new BlockDeviceException(BlockError.EIO, where + ": VHD BAT has " + Integer.toUnsignedString(entries)
                    + " entries (at most " + MAX_TABLE_ENTRIES + " accepted)");
        }
        if (table < 512 || table % 512 != 0 || table > (1L << 50)) {
            throw new BlockDeviceException(BlockError.EIO, where + ": bad VHD BAT offset " + table);
        }
        String name = new String(h, 64, 512, StandardCharsets.UTF_16BE);
        int nul = name.indexOf('\0');
        if (nul >= 0) {
            name = name.substring(0, nul);
        }
        ParentLocator[] locs = new ParentLocator[8];
        for (int i = 0; i < 8; i++) {
            locs[i] = ParentLocator.read(b, LOCATORS_OFFSET + i * ParentLocator.ENTRY_SIZE);
        }
        return new VhdDynamicHeader(table, entries, blockSize, Arrays.copyOfRange(h, 40, 56), b.getInt(56), name,
                List.of(locs));
    }

    public byte[] encode() {
        byte[] h = new byte[SIZE];
        ByteBuffer b = ByteBuffer.wrap(h);
        b.put(COOKIE).putLong(VhdFooter.NO_DATA_OFFSET).putLong(tableOffset).putInt(0x0001_0000)
                .putInt(maxTableEntries).putInt(blockSize).putInt(0).put(parentUniqueId).putInt(parentTimestamp)
                .putInt(0);
        byte[] name = parentName.getBytes(StandardCharsets.UTF_16BE);
        System.arraycopy(name, 0, h, 64, Math.min(name.length, 512));
        for (int i = 0; i < 8; i++) {
            locators.get(i).write(b, LOCATORS_OFFSET + i * ParentLocator.ENTRY_SIZE);
        }
        b.putInt(CHECKSUM_OFFSET, VhdChecksum.compute(h, 0, SIZE, CHECKSUM_OFFSET));
        return h;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VhdDynamicHeader d && Arrays.equals(encode(), d.encode());
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(encode());
    }
}
