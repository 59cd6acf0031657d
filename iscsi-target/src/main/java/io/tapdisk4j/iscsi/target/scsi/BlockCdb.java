package io.tapdisk4j.iscsi.target.scsi;

/** The LBA, block count and flags byte of a block command's CDB, whatever its size (SBC-3 5.x). */
record BlockCdb(long lba, long count, int flags) {

    static final int FUA = 0x08;

    static BlockCdb of(byte[] cdb) {
        int op = cdb[0] & 0xff;
        return switch (op >>> 5) {
            case 0 -> { // 6-byte: 21-bit LBA, 0 blocks means 256
                int n = Bytes.u8(cdb, 4);
                yield new BlockCdb(Bytes.u24(cdb, 1) & 0x1fffff, n == 0 ? 256 : n, 0);
            }
            case 1, 2 -> new BlockCdb(Bytes.u32(cdb, 2), Bytes.u16(cdb, 7), Bytes.u8(cdb, 1));
            case 5 -> new BlockCdb(Bytes.u32(cdb, 2), Bytes.u32(cdb, 6), Bytes.u8(cdb, 1));
            case 4 -> new BlockCdb(Bytes.u64(cdb, 2), Bytes.u32(cdb, 10), Bytes.u8(cdb, 1));
            default -> throw ScsiException.invalidOpcode(op);
        };
    }

    boolean fua() {
        return (flags & FUA) != 0;
    }

    /** RDPROTECT / WRPROTECT / VRPROTECT: this logical unit has no protection information. */
    void checkNoProtection() {
        if ((flags & 0xe0) != 0) {
            throw ScsiException.invalidFieldInCdb("protection field");
        }
    }
}
