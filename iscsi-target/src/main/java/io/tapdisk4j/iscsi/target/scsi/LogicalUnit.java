package io.tapdisk4j.iscsi.target.scsi;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Capability;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * LUN 0 of the target: the device, its geometry, and the state SCSI keeps per logical unit (mode page
 * settings, reservations). Commands of every session meet here, so the mutable parts are guarded by this
 * object's monitor.
 */
public final class LogicalUnit {

    /** Largest transfer of one READ or WRITE, in bytes (reported in the Block Limits VPD page). */
    public static final int MAX_TRANSFER_BYTES = 8 << 20;
    /** Largest COMPARE AND WRITE, in blocks. */
    public static final int MAX_COMPARE_AND_WRITE_BLOCKS = 255;
    public static final int MAX_UNMAP_DESCRIPTORS = 256;

    private final BlockDevice device;
    private final boolean readOnly;
    private final int blockSize;
    private final long blocks;
    private final byte[] id;
    private final String serial;
    private final PersistentReservations reservations = new PersistentReservations();
    /** MODE SELECT state: write cache enabled, descriptor sense format. */
    private volatile boolean writeCache = true;
    private volatile boolean descriptorSense;

    public LogicalUnit(BlockDevice device, boolean readOnly, String name) {
        this.device = device;
        this.readOnly = readOnly || device.has(Capability.READ_ONLY);
        this.blockSize = Math.max(512, device.logicalBlockSize());
        this.blocks = device.size() / blockSize;
        this.id = identifier(name);
        this.serial = hex(id, 0, 8);
    }

    /** A stable 8-byte identifier from the export's name: the same export gets the same WWN after a restart. */
    private static byte[] identifier(String name) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(name.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String hex(byte[] b, int off, int len) {
        StringBuilder sb = new StringBuilder();
        for (int i = off; i < off + len; i++) {
            sb.append(String.format("%02x", b[i]));
        }
        return sb.toString();
    }

    public BlockDevice device() {
        return device;
    }

    public boolean readOnly() {
        return readOnly;
    }

    public int blockSize() {
        return blockSize;
    }

    public long blocks() {
        return blocks;
    }

    /** Thin provisioning: UNMAP and WRITE SAME with UNMAP deallocate, GET LBA STATUS reports holes. */
    public boolean thin() {
        return !readOnly && device.has(Capability.DISCARD) && device.has(Capability.DISCARD_ZEROES);
    }

    /**
     * log2(physical block / logical block) for READ CAPACITY (16): 0, every logical block stands alone. A
     * thin device deallocates in its own granules, which the Block Limits page reports as the unmap and
     * transfer granularity; claiming larger physical blocks would make initiators expect UNMAP of one
     * logical block to be a no-op on its neighbours' provisioning state, which no file system gives.
     */
    public int physicalExponent() {
        return 0;
    }

    /** The device's natural I/O size in logical blocks (optimal transfer and unmap granularity). */
    public int granularity() {
        return Math.max(1, device.physicalBlockSize() / blockSize);
    }

    /** Largest WRITE SAME, in blocks: a pattern write goes through the same buffers as a WRITE. */
    public long maxWriteSameBlocks() {
        return Math.min(blocks, MAX_TRANSFER_BYTES / blockSize);
    }

    public String serial() {
        return serial;
    }

    /** 12 bytes of the name's hash, for the NAA and EUI designators. */
    public byte[] idBytes() {
        return id;
    }

    public PersistentReservations reservations() {
        return reservations;
    }

    public boolean writeCache() {
        return writeCache;
    }

    public void writeCache(boolean on) {
        writeCache = on;
    }

    public boolean descriptorSense() {
        return descriptorSense;
    }

    public void descriptorSense(boolean on) {
        descriptorSense = on;
    }

    /** Throws LBA OUT OF RANGE unless [lba, lba+count) lies on the medium. */
    public void checkRange(long lba, long count) {
        if (lba < 0 || count < 0 || lba > blocks || count > blocks - lba) {
            throw ScsiException.lbaOutOfRange(lba, count);
        }
    }

    public void checkWritable() {
        if (readOnly) {
            throw ScsiException.writeProtected();
        }
    }
}
