package io.tapdisk4j.iscsi.target.scsi;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;

/** INQUIRY (SPC-4 6.6): standard data and the VPD pages 00h, 80h, 83h, B0h, B1h, B2h. */
final class InquiryCommand implements CommandHandler {

    static final String VENDOR = "TAPDISK4";
    static final String PRODUCT = "tapdisk4j";
    static final String REVISION = "0001";

    private final LogicalUnit lu;
    private final String targetName;

    InquiryCommand(LogicalUnit lu, String targetName) {
        this.lu = lu;
        this.targetName = targetName;
    }

    @Override
    public CompletableFuture<ScsiResult> execute(ScsiRequest r) {
        byte[] cdb = r.cdb();
        boolean evpd = (cdb[1] & 0x01) != 0;
        int page = Bytes.u8(cdb, 2);
        int allocation = Bytes.u16(cdb, 3);
        if ((cdb[1] & 0x02) != 0) {
            throw ScsiException.invalidFieldInCdb("CMDDT");
        }
        if (!evpd) {
            if (page != 0) {
                throw ScsiException.invalidFieldInCdb("page code without EVPD");
            }
            return CompletableFuture.completedFuture(ScsiResult.data(standard(), allocation));
        }
        byte[] data = switch (page) {
            case 0x00 -> supportedPages();
            case 0x80 -> serialNumber();
            case 0x83 -> deviceIdentification();
            case 0xb0 -> blockLimits();
            case 0xb1 -> blockCharacteristics();
            case 0xb2 -> provisioning();
            default -> throw ScsiException.invalidFieldInCdb("VPD page " + Integer.toHexString(page));
        };
        return CompletableFuture.completedFuture(ScsiResult.data(data, allocation));
    }

    private byte[] standard() {
        byte[] d = new byte[96];
        d[0] = 0x00; // direct access block device
        d[2] = 0x06; // SPC-4
        d[3] = 0x12; // HISUP, response data format 2
        d[4] = (byte) (d.length - 5);
        d[7] = 0x02; // CMDQUE
        Bytes.putAscii(d, 8, 8, VENDOR);
        Bytes.putAscii(d, 16, 16, PRODUCT);
        Bytes.putAscii(d, 32, 4, REVISION);
        // Version descriptors (SPC-4 table 6.?): SAM-5, iSCSI, SPC-4, SBC-3.
        Bytes.putShort(d, 58, 0x00a0);
        Bytes.putShort(d, 60, 0x0960);
        Bytes.putShort(d, 62, 0x0460);
        Bytes.putShort(d, 64, 0x04c0);
        return d;
    }

    private static byte[] page(int code, int length) {
        byte[] d = new byte[4 + length];
        d[1] = (byte) code;
        Bytes.putShort(d, 2, length);
        return d;
    }

    private byte[] supportedPages() {
        int[] pages = {0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2};
        byte[] d = page(0x00, pages.length);
        for (int i = 0; i < pages.length; i++) {
            d[4 + i] = (byte) pages[i];
        }
        return d;
    }

    private byte[] serialNumber() {
        byte[] s = lu.serial().getBytes(StandardCharsets.US_ASCII);
        byte[] d = page(0x80, s.length);
        System.arraycopy(s, 0, d, 4, s.length);
        return d;
    }

    private byte[] deviceIdentification() {
        byte[] id = lu.idBytes();
        // NAA 6 (IEEE registered extended): 16 bytes, binary, associated with the logical unit.
        byte[] naa = new byte[4 + 16];
        naa[0] = 0x01;
        naa[1] = 0x03;
        naa[3] = 16;
        naa[4] = 0x60;
        System.arraycopy(id, 0, naa, 5, 15);
        // T10 vendor ID: vendor, then the serial number; ASCII, logical unit.
        byte[] t10text = (pad(VENDOR, 8) + lu.serial()).getBytes(StandardCharsets.US_ASCII);
        byte[] t10 = new byte[4 + t10text.length];
        t10[0] = 0x02;
        t10[1] = 0x01;
        t10[3] = (byte) t10text.length;
        System.arraycopy(t10text, 0, t10, 4, t10text.length);
        // SCSI name string of the target port (association 01b), NUL padded to a multiple of four.
        byte[] name = (targetName + ",t,0x0001").getBytes(StandardCharsets.UTF_8);
        int nameLength = (name.length + 4) & ~3;
        byte[] port = new byte[4 + nameLength];
        port[0] = 0x53; // iSCSI, UTF-8
        port[1] = (byte) 0x98; // PIV, target port, SCSI name string
        port[3] = (byte) nameLength;
        System.arraycopy(name, 0, port, 4, name.length);
        // Relative target port 1.
        byte[] relative = {0x51, (byte) 0x94, 0, 4, 0, 0, 0, 1};
        byte[] d = page(0x83, naa.length + t10.length + port.length + relative.length);
        int o = 4;
        for (byte[] part : new byte[][] {naa, t10, port, relative}) {
            System.arraycopy(part, 0, d, o, part.length);
            o += part.length;
        }
        return d;
    }

    private static String pad(String s, int width) {
        return (s + " ".repeat(width)).substring(0, width);
    }

    private byte[] blockLimits() {
        byte[] d = page(0xb0, 0x3c);
        d[4] = 0x01; // WSNZ: WRITE SAME with 0 blocks is refused
        d[5] = (byte) LogicalUnit.MAX_COMPARE_AND_WRITE_BLOCKS;
        int granularity = lu.granularity();
        Bytes.putShort(d, 6, granularity);
        int maxBlocks = LogicalUnit.MAX_TRANSFER_BYTES / lu.blockSize();
        Bytes.putInt(d, 8, maxBlocks);
        Bytes.putInt(d, 12, Math.min(maxBlocks, (1 << 20) / lu.blockSize()));
        if (lu.thin()) {
            Bytes.putInt(d, 20, 0xffffffff);
            Bytes.putInt(d, 24, LogicalUnit.MAX_UNMAP_DESCRIPTORS);
            Bytes.putInt(d, 28, granularity);
        }
        Bytes.putLong(d, 36, lu.maxWriteSameBlocks());
        return d;
    }

    private byte[] blockCharacteristics() {
        byte[] d = page(0xb1, 0x3c);
        Bytes.putShort(d, 4, 1); // non-rotating medium
        return d;
    }

    private byte[] provisioning() {
        byte[] d = page(0xb2, 4);
        if (lu.thin()) {
            d[5] = (byte) (0x80 | 0x40 | 0x20 | 0x04); // LBPU, LBPWS, LBPWS10, LBPRZ
            d[6] = 0x02; // thin provisioned
        }
        return d;
    }
}
