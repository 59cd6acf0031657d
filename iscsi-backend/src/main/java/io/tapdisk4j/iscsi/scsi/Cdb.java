package io.tapdisk4j.iscsi.scsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * Command descriptor blocks (SBC-4, SPC-5) for the commands a block device needs. Each method returns
 * the CDB bytes (6, 10 or 16 long); the SCSI Command PDU pads them to 16.
 */
public final class Cdb {

    public static final int TEST_UNIT_READY = 0x00;
    public static final int REQUEST_SENSE = 0x03;
    public static final int INQUIRY = 0x12;
    public static final int READ_CAPACITY_10 = 0x25;
    public static final int READ_10 = 0x28;
    public static final int WRITE_10 = 0x2a;
    public static final int SYNCHRONIZE_CACHE_10 = 0x35;
    public static final int UNMAP = 0x42;
    public static final int READ_16 = 0x88;
    public static final int WRITE_16 = 0x8a;
    public static final int SYNCHRONIZE_CACHE_16 = 0x91;
    public static final int WRITE_SAME_16 = 0x93;
    public static final int PERSISTENT_RESERVE_IN = 0x5e;
    public static final int PERSISTENT_RESERVE_OUT = 0x5f;
    public static final int SERVICE_ACTION_IN_16 = 0x9e;
    public static final int REPORT_LUNS = 0xa0;

    private Cdb() {
    }

    public static byte[] testUnitReady() {
        return new byte[6];
    }

    public static byte[] inquiry(int allocationLength) {
        return inquiry(false, 0, allocationLength);
    }

    public static byte[] vpd(int page, int allocationLength) {
        return inquiry(true, page, allocationLength);
    }

    private static byte[] inquiry(boolean evpd, int page, int allocationLength) {
        byte[] c = new byte[6];
        c[0] = INQUIRY;
        c[1] = (byte) (evpd ? 1 : 0);
        c[2] = (byte) page;
        put16(c, 3, allocationLength);
        return c;
    }

    public static byte[] readCapacity16(int allocationLength) {
        byte[] c = new byte[16];
        c[0] = (byte) SERVICE_ACTION_IN_16;
        c[1] = 0x10; // READ CAPACITY (16)
        put32(c, 10, allocationLength);
        return c;
    }

    /** GET LBA STATUS (SBC-4 5.8): the provisioning status of the blocks from {@code lba} on. */
    public static byte[] getLbaStatus(long lba, int allocationLength) {
        byte[] c = new byte[16];
        c[0] = (byte) SERVICE_ACTION_IN_16;
        c[1] = 0x12; // GET LBA STATUS
        put64(c, 2, lba);
        put32(c, 10, allocationLength);
        return c;
    }

    public static byte[] readCapacity10() {
        byte[] c = new byte[10];
        c[0] = READ_CAPACITY_10;
        return c;
    }

    public static byte[] read16(long lba, int blocks, boolean fua) {
        return rw16(READ_16, lba, blocks, fua);
    }

    public static byte[] write16(long lba, int blocks, boolean fua) {
        return rw16(WRITE_16, lba, blocks, fua);
    }

    private static byte[] rw16(int opcode, long lba, int blocks, boolean fua) {
        byte[] c = new byte[16];
        c[0] = (byte) opcode;
        c[1] = (byte) (fua ? 0x08 : 0);
        put64(c, 2, lba);
        put32(c, 10, blocks);
        return c;
    }

    public static byte[] read10(long lba, int blocks, boolean fua) {
        return rw10(READ_10, lba, blocks, fua);
    }

    public static byte[] write10(long lba, int blocks, boolean fua) {
        return rw10(WRITE_10, lba, blocks, fua);
    }

    private static byte[] rw10(int opcode, long lba, int blocks, boolean fua) {
        if (lba < 0 || lba > 0xffffffffL || blocks < 0 || blocks > 0xffff) {
            throw new IllegalArgumentException("READ/WRITE(10) cannot address LBA " + lba + " x " + blocks);
        }
        byte[] c = new byte[10];
        c[0] = (byte) opcode;
        c[1] = (byte) (fua ? 0x08 : 0);
        put32(c, 2, (int) lba);
        put16(c, 7, blocks);
        return c;
    }

    /** Whole-medium SYNCHRONIZE CACHE(16): LBA 0, NUMBER OF BLOCKS 0 means "to the end". */
    public static byte[] synchronizeCache16() {
        byte[] c = new byte[16];
        c[0] = (byte) SYNCHRONIZE_CACHE_16;
        return c;
    }

    public static byte[] synchronizeCache10() {
        byte[] c = new byte[10];
        c[0] = SYNCHRONIZE_CACHE_10;
        return c;
    }

    public static byte[] writeSame16(long lba, int blocks, boolean unmap) {
        byte[] c = new byte[16];
        c[0] = (byte) WRITE_SAME_16;
        c[1] = (byte) (unmap ? 0x08 : 0);
        put64(c, 2, lba);
        put32(c, 10, blocks);
        return c;
    }

    /** UNMAP with a parameter list of {@code descriptors} block descriptors (24-byte-per-call header excluded). */
    public static byte[] unmap(int descriptors) {
        byte[] c = new byte[10];
        c[0] = UNMAP;
        put16(c, 7, 8 + 16 * descriptors);
        return c;
    }

    /** The UNMAP parameter list for one range (SBC-4 5.31.2). */
    public static ByteBuf unmapParameters(ByteBufAllocator alloc, long lba, int blocks) {
        ByteBuf b = alloc.directBuffer(24, 24);
        b.writeShort(22);  // UNMAP DATA LENGTH: bytes after this field
        b.writeShort(16);  // BLOCK DESCRIPTOR DATA LENGTH
        b.writeInt(0);
        b.writeLong(lba);
        b.writeInt(blocks);
        b.writeInt(0);
        return b;
    }

    public static byte[] reportLuns(int allocationLength) {
        byte[] c = new byte[12];
        c[0] = (byte) REPORT_LUNS;
        put32(c, 6, allocationLength);
        return c;
    }

    /** PERSISTENT RESERVE IN (SPC-4 6.15): {@code serviceAction} 0 READ KEYS, 1 READ RESERVATION. */
    public static byte[] persistentReserveIn(int serviceAction, int allocationLength) {
        byte[] c = new byte[10];
        c[0] = (byte) PERSISTENT_RESERVE_IN;
        c[1] = (byte) (serviceAction & 0x1f);
        put16(c, 7, allocationLength);
        return c;
    }

    /**
     * PERSISTENT RESERVE OUT (SPC-4 6.16) with the basic 24-byte parameter list ({@link #reservationParameters}):
     * {@code serviceAction} 0 REGISTER, 1 RESERVE, 2 RELEASE, 4 PREEMPT; {@code type} as in the reservation.
     */
    public static byte[] persistentReserveOut(int serviceAction, int type) {
        byte[] c = new byte[10];
        c[0] = (byte) PERSISTENT_RESERVE_OUT;
        c[1] = (byte) (serviceAction & 0x1f);
        c[2] = (byte) (type & 0x0f); // scope 0: the whole LU
        put32(c, 5, 24);
        return c;
    }

    /** The basic PERSISTENT RESERVE OUT parameter list: reservation key, service action key, no flags. */
    public static ByteBuf reservationParameters(ByteBufAllocator alloc, long reservationKey, long serviceActionKey) {
        ByteBuf b = alloc.directBuffer(24, 24);
        b.writeLong(reservationKey);
        b.writeLong(serviceActionKey);
        b.writeZero(8);
        return b;
    }

    public static String name(int opcode) {
        return switch (opcode) {
            case TEST_UNIT_READY -> "TEST UNIT READY";
            case INQUIRY -> "INQUIRY";
            case READ_CAPACITY_10 -> "READ CAPACITY(10)";
            case READ_10 -> "READ(10)";
            case WRITE_10 -> "WRITE(10)";
            case SYNCHRONIZE_CACHE_10 -> "SYNCHRONIZE CACHE(10)";
            case UNMAP -> "UNMAP";
            case READ_16 -> "READ(16)";
            case WRITE_16 -> "WRITE(16)";
            case SYNCHRONIZE_CACHE_16 -> "SYNCHRONIZE CACHE(16)";
            case WRITE_SAME_16 -> "WRITE SAME(16)";
            case PERSISTENT_RESERVE_IN -> "PERSISTENT RESERVE IN";
            case PERSISTENT_RESERVE_OUT -> "PERSISTENT RESERVE OUT";
            case SERVICE_ACTION_IN_16 -> "SERVICE ACTION IN(16)";
            case REPORT_LUNS -> "REPORT LUNS";
            default -> String.format("SCSI opcode 0x%02x", opcode);
        };
    }

    static void put16(byte[] c, int at, int v) {
        c[at] = (byte) (v >>> 8);
        c[at + 1] = (byte) v;
    }

    static void put32(byte[] c, int at, int v) {
        c[at] = (byte) (v >>> 24);
        c[at + 1] = (byte) (v >>> 16);
        c[at + 2] = (byte) (v >>> 8);
        c[at + 3] = (byte) v;
    }

    static void put64(byte[] c, int at, long v) {
        put32(c, at, (int) (v >>> 32));
        put32(c, at + 4, (int) v);
    }
}
