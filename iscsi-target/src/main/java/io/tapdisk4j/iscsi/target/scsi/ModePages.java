package io.tapdisk4j.iscsi.target.scsi;

import io.netty.buffer.ByteBuf;

import java.io.ByteArrayOutputStream;
import java.util.concurrent.CompletableFuture;

/**
 * MODE SENSE and MODE SELECT (6 and 10, SPC-4 6.11-6.14): read-write error recovery (01h), caching (08h,
 * WCE changeable), control (0Ah, D_SENSE changeable) and informational exceptions (1Ch); no saved values.
 */
final class ModePages {

    private static final int[] PAGES = {0x01, 0x08, 0x0a, 0x1c};

    private final LogicalUnit lu;

    ModePages(LogicalUnit lu) {
        this.lu = lu;
    }

    CompletableFuture<ScsiResult> sense(ScsiRequest r) {
        byte[] cdb = r.cdb();
        boolean ten = (cdb[0] & 0xff) == 0x5a;
        boolean dbd = (cdb[1] & 0x08) != 0;
        boolean longLba = ten && (cdb[1] & 0x10) != 0;
        int pc = (cdb[2] & 0xc0) >>> 6;
        int page = cdb[2] & 0x3f;
        int subpage = Bytes.u8(cdb, 3);
        int allocation = ten ? Bytes.u16(cdb, 7) : Bytes.u8(cdb, 4);
        if (pc == 3) {
            throw new ScsiException(Sense.ILLEGAL_REQUEST, 0x39, 0x00, "SAVING PARAMETERS NOT SUPPORTED");
        }
        ByteArrayOutputStream pages = new ByteArrayOutputStream();
        if (page == 0x3f) {
            if (subpage != 0 && subpage != 0xff) {
                throw ScsiException.invalidFieldInCdb("subpage " + subpage);
            }
            for (int p : PAGES) {
                pages.writeBytes(page(p, pc));
            }
        } else {
            if (subpage != 0 || !known(page)) {
                throw ScsiException.invalidFieldInCdb("mode page " + Integer.toHexString(page) + "/" + subpage);
            }
            pages.writeBytes(page(page, pc));
        }
        byte[] descriptor = dbd ? new byte[0] : blockDescriptor(longLba);
        byte[] body = pages.toByteArray();
        int deviceSpecific = (lu.readOnly() ? 0x80 : 0) | 0x10; // WP, DPOFUA
        byte[] d;
        if (ten) {
            d = new byte[8 + descriptor.length + body.length];
            Bytes.putShort(d, 0, d.length - 2);
            d[3] = (byte) deviceSpecific;
            d[4] = (byte) (longLba && !dbd ? 1 : 0);
            Bytes.putShort(d, 6, descriptor.length);
            System.arraycopy(descriptor, 0, d, 8, descriptor.length);
            System.arraycopy(body, 0, d, 8 + descriptor.length, body.length);
        } else {
            d = new byte[4 + descriptor.length + body.length];
            d[0] = (byte) (d.length - 1);
            d[2] = (byte) deviceSpecific;
            d[3] = (byte) descriptor.length;
            System.arraycopy(descriptor, 0, d, 4, descriptor.length);
            System.arraycopy(body, 0, d, 4 + descriptor.length, body.length);
        }
        return CompletableFuture.completedFuture(ScsiResult.data(d, allocation));
    }

    private static boolean known(int page) {
        for (int p : PAGES) {
            if (p == page) {
                return true;
            }
        }
        return false;
    }

    private byte[] blockDescriptor(boolean longLba) {
        if (longLba) {
            byte[] b = new byte[16];
            Bytes.putLong(b, 0, lu.blocks());
            Bytes.putInt(b, 12, lu.blockSize());
            return b;
        }
        byte[] b = new byte[8];
        Bytes.putInt(b, 0, (int) Math.min(lu.blocks(), 0xffffffffL));
        Bytes.putInt(b, 4, lu.blockSize() & 0xffffff);
        return b;
    }

    /** A page's current, changeable (1) or default (2) values. */
    private byte[] page(int code, int pc) {
        boolean changeable = pc == 1;
        return switch (code) {
            case 0x01 -> {
                byte[] p = new byte[12];
                p[0] = 0x01;
                p[1] = 10;
                yield p;
            }
            case 0x08 -> {
                byte[] p = new byte[20];
                p[0] = 0x08;
                p[1] = 18;
                if (changeable) {
                    p[2] = 0x04;
                } else if (pc == 2 || lu.writeCache()) {
                    p[2] = 0x04; // WCE
                }
                yield p;
            }
            case 0x0a -> {
                byte[] p = new byte[12];
                p[0] = 0x0a;
                p[1] = 10;
                if (changeable) {
                    p[2] = 0x04;
                } else if (pc == 0 && lu.descriptorSense()) {
                    p[2] = 0x04; // D_SENSE
                }
                if (!changeable) {
                    p[3] = 0x10; // queue algorithm modifier 1: unrestricted reordering
                    Bytes.putShort(p, 8, 0xffff); // busy timeout period: unlimited
                }
                yield p;
            }
            case 0x1c -> {
                byte[] p = new byte[12];
                p[0] = 0x1c;
                p[1] = 10;
                yield p;
            }
            default -> throw ScsiException.invalidFieldInCdb("mode page " + code);
        };
    }

    CompletableFuture<ScsiResult> select(ScsiRequest r) {
        byte[] cdb = r.cdb();
        boolean ten = (cdb[0] & 0xff) == 0x55;
        int listLength = ten ? Bytes.u16(cdb, 7) : Bytes.u8(cdb, 4);
        if ((cdb[1] & 0x01) != 0) {
            throw new ScsiException(Sense.ILLEGAL_REQUEST, 0x39, 0x00, "SAVING PARAMETERS NOT SUPPORTED");
        }
        if (listLength == 0) {
            return CompletableFuture.completedFuture(ScsiResult.good());
        }
        ByteBuf p = r.dataOut();
        int n = Math.min(listLength, p.readableBytes());
        int header = ten ? 8 : 4;
        if (n < header) {
            throw ScsiException.parameterListLength("MODE SELECT list of " + n + " bytes");
        }
        int base = p.readerIndex();
        int descriptorLength = ten ? p.getUnsignedShort(base + 6) : p.getUnsignedByte(base + 3);
        int at = header + descriptorLength;
        boolean wce = lu.writeCache();
        boolean dsense = lu.descriptorSense();
        while (at + 2 <= n) {
            int code = p.getUnsignedByte(base + at) & 0x3f;
            int length = p.getUnsignedByte(base + at + 1);
            if (at + 2 + length > n || !known(code)) {
                throw ScsiException.invalidFieldInParameters("mode page " + Integer.toHexString(code));
            }
            if (code == 0x08 && length >= 1) {
                wce = (p.getByte(base + at + 2) & 0x04) != 0;
            } else if (code == 0x0a && length >= 1) {
                dsense = (p.getByte(base + at + 2) & 0x04) != 0;
            }
            at += 2 + length;
        }
        lu.writeCache(wce);
        lu.descriptorSense(dsense);
        return CompletableFuture.completedFuture(ScsiResult.good(listLength));
    }
}
