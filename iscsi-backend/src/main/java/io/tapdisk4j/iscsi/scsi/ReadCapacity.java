package io.tapdisk4j.iscsi.scsi;

import io.netty.buffer.ByteBuf;

/**
 * READ CAPACITY parameter data (SBC-4 5.20.2). {@code lbpme}: the unit is thin provisioned and may accept
 * UNMAP; {@code lbprz}: unmapped blocks read as zeroes.
 */
public record ReadCapacity(long blocks, int blockLength, int physicalExponent, boolean lbpme, boolean lbprz) {

    public long bytes() {
        return blocks * blockLength;
    }

    public static ReadCapacity parse16(ByteBuf b) {
        if (b.readableBytes() < 12) {
            throw new IllegalArgumentException("READ CAPACITY(16) data of " + b.readableBytes() + " bytes");
        }
        int at = b.readerIndex();
        long lastLba = b.getLong(at);
        int blockLength = b.getInt(at + 8);
        int exp = b.readableBytes() > 13 ? b.getByte(at + 13) & 0x0f : 0;
        int flags = b.readableBytes() > 14 ? b.getByte(at + 14) & 0xff : 0;
        return checked(lastLba, blockLength, exp, (flags & 0x80) != 0, (flags & 0x40) != 0);
    }

    public static ReadCapacity parse10(ByteBuf b) {
        if (b.readableBytes() < 8) {
            throw new IllegalArgumentException("READ CAPACITY(10) data of " + b.readableBytes() + " bytes");
        }
        int at = b.readerIndex();
        return checked(b.getUnsignedInt(at), b.getInt(at + 4), 0, false, false);
    }

    private static ReadCapacity checked(long lastLba, int blockLength, int exp, boolean lbpme, boolean lbprz) {
        if (blockLength < 512 || blockLength > 65536 || Integer.bitCount(blockLength) != 1) {
            throw new IllegalArgumentException("unsupported logical block length " + blockLength);
        }
        if (lastLba < 0 || lastLba >= Long.MAX_VALUE / blockLength) {
            throw new IllegalArgumentException("capacity out of range: last LBA " + Long.toUnsignedString(lastLba));
        }
        return new ReadCapacity(lastLba + 1, blockLength, exp, lbpme, lbprz);
    }
}
