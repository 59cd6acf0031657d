package io.tapdisk4j.qcow2;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.image.Io;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Writes new, empty qcow2 version 3 images: the header (with the backing file's name and format), a refcount
 * table sized for the whole disk (so it never has to move in normal use), one refcount block for the
 * metadata, and an empty L1 table. 16-bit refcounts, as QEMU makes them.
 */
public final class Qcow2Creator {

    public static final int DEFAULT_CLUSTER_SIZE = 64 << 10;
    /** The largest disk {@code vdi create --format qcow2} makes. */
    public static final long MAX_CREATE_SIZE = 64L << 40;

    /** Options beyond the size: cluster size, extended L2, a backing file (its name as stored, and format). */
    public record Options(int clusterSize, boolean extendedL2, String backingName, String backingFormat) {
        public static Options defaults() {
            return new Options(DEFAULT_CLUSTER_SIZE, false, null, null);
        }

        public Options withBacking(String name, String format) {
            return new Options(clusterSize, extendedL2, name, format);
        }

        public Options withClusterSize(int size) {
            return new Options(size, extendedL2, backingName, backingFormat);
        }

        public Options withExtendedL2(boolean on) {
            return new Options(clusterSize, on, backingName, backingFormat);
        }
    }

    private Qcow2Creator() {
    }

    public static void checkSize(long size) throws BlockDeviceException {
        if (size < 0 || size % 512 != 0 || size > MAX_CREATE_SIZE) {
            throw new BlockDeviceException(BlockError.EINVAL, "qcow2 size must be a positive multiple of 512 up to "
                    + (MAX_CREATE_SIZE >> 40) + " TiB (" + size + ")");
        }
    }

    public static void create(BlockDevice transport, long size, Options o) throws BlockDeviceException {
        checkSize(size);
        int cs = o.clusterSize();
        if (Integer.bitCount(cs) != 1 || cs < 512 || cs > (2 << 20)) {
            throw new BlockDeviceException(BlockError.EINVAL, "cluster size " + cs + " must be a power of two from 512 B to 2 MiB");
        }
        if (o.extendedL2() && cs < (16 << 10)) {
            throw new BlockDeviceException(BlockError.EINVAL, "extended L2 entries need clusters of 16 KiB or more");
        }
        int bits = Integer.numberOfTrailingZeros(cs);
        long l1Entries = Qcow2Header.l1EntriesFor(size, bits, o.extendedL2());
        if (l1Entries * 8 > Qcow2Header.MAX_L1_BYTES) {
            throw new BlockDeviceException(BlockError.EFBIG, size + " bytes needs an L1 table over 32 MiB with "
                    + cs + "-byte clusters; use larger clusters");
        }
        long l1Clusters = Math.max(1, (l1Entries * 8 + cs - 1) / cs);
        long perBlock = (long) cs * 8 / 16;
        long l2Tables = l1Entries;
        // the whole disk allocated: data, L2 tables, L1, header, refcount blocks, and the table itself
        long maxClusters = (size + cs - 1) / cs + l2Tables + l1Clusters + 64;
        long blocks = (maxClusters + perBlock - 1) / perBlock + 1;
        blocks += (blocks + perBlock - 1) / perBlock;
        long tableClusters = Math.max(1, (blocks * 8 + cs - 1) / cs);
        if (tableClusters * cs > Qcow2Header.MAX_REFTABLE_BYTES) {
            throw new BlockDeviceException(BlockError.EFBIG, size + " bytes needs a refcount table over 8 MiB with "
                    + cs + "-byte clusters; use larger clusters");
        }
        long tableAt = cs;
        long blockAt = tableAt + tableClusters * cs;
        long l1At = blockAt + cs;
        long end = l1At + l1Clusters * cs;
        long usedClusters = end / cs;
        if (usedClusters > perBlock) {
            throw new BlockDeviceException(BlockError.EFBIG, "metadata of " + usedClusters
                    + " clusters does not fit one refcount block; use larger clusters");
        }
        ByteBuffer header = ByteBuffer.allocate(cs);
        int headerLength = Qcow2Header.V3_LENGTH;
        header.putInt(0, Qcow2Header.MAGIC).putInt(4, 3).putInt(20, bits).putLong(24, size)
                .putInt(36, (int) l1Entries).putLong(40, l1At).putLong(48, tableAt).putInt(56, (int) tableClusters)
                .putLong(72, o.extendedL2() ? Qcow2Header.INCOMPAT_EXTL2 : 0).putInt(96, 4).putInt(100, headerLength);
        int p = headerLength;
        if (o.backingFormat() != null) {
            byte[] f = o.backingFormat().getBytes(StandardCharsets.UTF_8);
            header.putInt(p, Qcow2Header.EXT_BACKING_FORMAT).putInt(p + 4, f.length);
            header.put(p + 8, f);
            p += 8 + (f.length + 7) / 8 * 8;
        }
        header.putInt(p, Qcow2Header.EXT_END).putInt(p + 4, 0);
        p += 8;
        if (o.backingName() != null) {
            byte[] name = o.backingName().getBytes(StandardCharsets.UTF_8);
            if (name.length == 0 || name.length > 1023 || p + name.length > cs) {
                throw new BlockDeviceException(BlockError.EINVAL, "backing file name of " + name.length
                        + " bytes does not fit the header");
            }
            header.putLong(8, p).putInt(16, name.length);
            header.put(p, name);
        }
        ByteBuffer table = ByteBuffer.allocate((int) (tableClusters * cs));
        table.putLong(0, blockAt);
        ByteBuffer block = ByteBuffer.allocate(cs);
        for (int c = 0; c < usedClusters; c++) {
            block.putShort(c * 2, (short) 1);
        }
        if (transport.size() > 0 && transport.has(io.tapdisk4j.block.Capability.RESIZE)) {
            Io.join(transport.resize(0));
        }
        if (transport.size() < end) {
            if (!transport.has(io.tapdisk4j.block.Capability.RESIZE)) {
                throw new BlockDeviceException(BlockError.ENOSPC, "storage too small for a qcow2 image");
            }
            Io.join(transport.resize(end));
        }
        // tables first, header last: a crash leaves no image that claims to be valid
        Io.write(transport, tableAt, table.array());
        Io.write(transport, blockAt, block.array());
        Io.join(Io.zero(transport, l1At, l1Clusters * cs));
        Io.join(transport.flush());
        Io.write(transport, 0, header.array());
        Io.join(transport.flush());
    }
}
