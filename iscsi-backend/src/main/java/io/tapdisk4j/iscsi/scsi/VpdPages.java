package io.tapdisk4j.iscsi.scsi;

import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Parsers for the Vital Product Data pages a block device consults (SPC-5 7.8, SBC-4 6.6). */
public final class VpdPages {

    public static final int SUPPORTED_PAGES = 0x00;
    public static final int UNIT_SERIAL_NUMBER = 0x80;
    public static final int DEVICE_IDENTIFICATION = 0x83;
    public static final int BLOCK_LIMITS = 0xb0;
    public static final int LOGICAL_BLOCK_PROVISIONING = 0xb2;

    private VpdPages() {
    }

    /** Page 0x00: the page codes the unit supports. */
    public static List<Integer> supportedPages(ByteBuf b) {
        int length = pageLength(b, SUPPORTED_PAGES);
        List<Integer> pages = new ArrayList<>();
        for (int i = 0; i < length; i++) {
            pages.add(b.getByte(b.readerIndex() + 4 + i) & 0xff);
        }
        return pages;
    }

    /** Page 0x80. */
    public static String serialNumber(ByteBuf b) {
        int length = pageLength(b, UNIT_SERIAL_NUMBER);
        byte[] s = new byte[length];
        b.getBytes(b.readerIndex() + 4, s);
        return new String(s, StandardCharsets.US_ASCII).trim();
    }

    /** One designator of page 0x83. */
    public record Designator(int codeSet, int association, int type, byte[] value) {
        public String text() {
            if (codeSet == 2 || codeSet == 3) {
                return new String(value, StandardCharsets.UTF_8).trim();
            }
            StringBuilder sb = new StringBuilder("0x");
            for (byte x : value) {
                sb.append(String.format("%02x", x & 0xff));
            }
            return sb.toString();
        }
    }

    /** Page 0x83: the designators (NAA, T10 vendor ID, EUI-64, SCSI name …). */
    public static List<Designator> designators(ByteBuf b) {
        int length = pageLength(b, DEVICE_IDENTIFICATION);
        List<Designator> list = new ArrayList<>();
        int at = 4;
        while (at + 4 <= 4 + length) {
            int base = b.readerIndex() + at;
            int codeSet = b.getByte(base) & 0x0f;
            int assoc = (b.getByte(base + 1) >> 4) & 0x03;
            int type = b.getByte(base + 1) & 0x0f;
            int n = b.getByte(base + 3) & 0xff;
            if (at + 4 + n > 4 + length) {
                throw new IllegalArgumentException("designator of " + n + " bytes overruns VPD page 0x83");
            }
            byte[] v = new byte[n];
            b.getBytes(base + 4, v);
            list.add(new Designator(codeSet, assoc, type, v));
            at += 4 + n;
        }
        return list;
    }

    /**
     * Page 0xB0. Lengths are in logical blocks; 0 means "no limit reported".
     */
    public record BlockLimits(long maxTransferLength, long optimalTransferLength, long maxUnmapLbaCount,
                              long maxUnmapDescriptors, long optimalUnmapGranularity, long maxWriteSameLength) {
        public static final BlockLimits NONE = new BlockLimits(0, 0, 0, 0, 0, 0);
    }

    public static BlockLimits blockLimits(ByteBuf b) {
        int length = pageLength(b, BLOCK_LIMITS);
        int at = b.readerIndex();
        long maxTransfer = length >= 12 ? b.getUnsignedInt(at + 8) : 0;
        long optimal = length >= 12 ? b.getUnsignedInt(at + 12) : 0;
        long maxUnmap = length >= 28 ? b.getUnsignedInt(at + 20) : 0;
        long maxDescr = length >= 28 ? b.getUnsignedInt(at + 24) : 0;
        long granularity = length >= 28 ? b.getUnsignedInt(at + 28) : 0;
        long maxWs = length >= 40 ? b.getLong(at + 36) : 0;
        return new BlockLimits(maxTransfer, optimal, maxUnmap, maxDescr, granularity, Math.max(0, maxWs));
    }

    /** Page 0xB2: which unmapping commands the unit accepts. */
    public record Provisioning(boolean unmap, boolean writeSame16Unmap, boolean writeSame10Unmap, boolean readsZeroes,
                               int provisioningType) {
        public static final Provisioning NONE = new Provisioning(false, false, false, false, 0);
    }

    public static Provisioning provisioning(ByteBuf b) {
        int length = pageLength(b, LOGICAL_BLOCK_PROVISIONING);
        if (length < 2) {
            return Provisioning.NONE;
        }
        int at = b.readerIndex();
        int flags = b.getByte(at + 5) & 0xff;
        int type = length >= 3 ? b.getByte(at + 6) & 0x07 : 0;
        return new Provisioning((flags & 0x80) != 0, (flags & 0x40) != 0, (flags & 0x20) != 0,
                ((flags >> 2) & 0x07) != 0, type);
    }

    private static int pageLength(ByteBuf b, int page) {
        if (b.readableBytes() < 4) {
            throw new IllegalArgumentException("VPD page 0x" + Integer.toHexString(page) + " of " + b.readableBytes() + " bytes");
        }
        int got = b.getByte(b.readerIndex() + 1) & 0xff;
        if (got != page) {
            throw new IllegalArgumentException("asked for VPD page 0x" + Integer.toHexString(page) + ", got 0x"
                    + Integer.toHexString(got));
        }
        int length = b.getUnsignedShort(b.readerIndex() + 2);
        if (4 + length > b.readableBytes()) {
            length = b.readableBytes() - 4; // truncated by the allocation length: use what arrived
        }
        return length;
    }
}
