package io.tapdisk4j.iscsi.scsi;

import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;

/** Standard INQUIRY data (SPC-5 6.7.2): the fields a log line and a device check need. */
public record InquiryData(int peripheralQualifier, int deviceType, boolean removable, String vendor, String product,
                          String revision) {

    public static final int DIRECT_ACCESS = 0x00;

    public static InquiryData parse(ByteBuf b) {
        if (b.readableBytes() < 5) {
            throw new IllegalArgumentException("INQUIRY data of " + b.readableBytes() + " bytes");
        }
        int at = b.readerIndex();
        int b0 = b.getByte(at) & 0xff;
        boolean rmb = (b.getByte(at + 1) & 0x80) != 0;
        return new InquiryData(b0 >> 5, b0 & 0x1f, rmb, ascii(b, 8, 8), ascii(b, 16, 16), ascii(b, 32, 4));
    }

    private static String ascii(ByteBuf b, int offset, int length) {
        int n = Math.max(0, Math.min(length, b.readableBytes() - offset));
        byte[] bytes = new byte[n];
        b.getBytes(b.readerIndex() + offset, bytes);
        return new String(bytes, StandardCharsets.US_ASCII).replaceAll("[^\\x20-\\x7e]", "?").trim();
    }

    public boolean directAccessBlockDevice() {
        return peripheralQualifier == 0 && deviceType == DIRECT_ACCESS;
    }

    @Override
    public String toString() {
        return vendor + " " + product + " " + revision + " (type " + deviceType + ")";
    }
}
