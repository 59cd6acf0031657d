package io.tapdisk4j.vhd;

import java.nio.ByteBuffer;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;

/**
 * One of the eight parent locator entries of a differencing disk's dynamic header: a platform code and
 * where in the file the locator text lies.
 *
 * <p>Platform codes, as blktap and XenServer write them: {@code W2ru} holds the parent's path relative to
 * the child (UTF-16LE), {@code W2ku} its absolute path (UTF-16LE). For network storage we write the
 * parent's full device URI ({@code nfs://…}, {@code iscsi://…}, {@code file:///…}) under {@code MacX},
 * which the specification defines as a UTF-8 URL; blktap writes {@code file://} URLs there too, so a
 * reader that only knows files still finds local parents.
 */
public record ParentLocator(int platformCode, int dataSpace, int dataLength, long dataOffset) {

    public static final int ENTRY_SIZE = 24;
    public static final int W2RU = code("W2ru");
    public static final int W2KU = code("W2ku");
    public static final int MACX = code("MacX");
    public static final ParentLocator EMPTY = new ParentLocator(0, 0, 0, 0);

    static int code(String s) {
        byte[] b = s.getBytes(StandardCharsets.US_ASCII);
        return ByteBuffer.wrap(b).getInt();
    }

    public boolean isEmpty() {
        return platformCode == 0;
    }

    public String platformName() {
        byte[] b = ByteBuffer.allocate(4).putInt(platformCode).array();
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    /**
     * Bytes reserved for the locator text. The specification says sectors, but Virtual PC and others wrote
     * bytes; like libvhd we read a multiple of 512 as bytes.
     */
    public long reservedBytes() {
        long space = Integer.toUnsignedLong(dataSpace);
        return space >= 512 && space % 512 == 0 ? space : space * 512;
    }

    static ParentLocator read(ByteBuffer b, int at) {
        return new ParentLocator(b.getInt(at), b.getInt(at + 4), b.getInt(at + 8), b.getLong(at + 16));
    }

    void write(ByteBuffer b, int at) {
        b.putInt(at, platformCode).putInt(at + 4, dataSpace).putInt(at + 8, dataLength).putInt(at + 12, 0)
                .putLong(at + 16, dataOffset);
    }

    static Charset charset(int platformCode) {
        return platformCode == MACX ? StandardCharsets.UTF_8 : StandardCharsets.UTF_16LE;
    }

    /** The locator text for this platform code. */
    static byte[] encodeText(int platformCode, String text) {
        return text.getBytes(charset(platformCode));
    }

    String decodeText(byte[] data) {
        String s = new String(data, charset(platformCode));
        int nul = s.indexOf('\0');
        return nul >= 0 ? s.substring(0, nul) : s;
    }
}
