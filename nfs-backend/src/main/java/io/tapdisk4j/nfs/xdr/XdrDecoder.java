package io.tapdisk4j.nfs.xdr;

import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;

/**
 * RFC 4506 decoding from a ByteBuf. Every read checks what is left first, and every variable-length item
 * has a caller-given maximum, so a truncated or hostile message fails with {@link XdrException} instead of
 * an IndexOutOfBoundsException or a huge allocation.
 */
public final class XdrDecoder {

    private final ByteBuf in;

    public XdrDecoder(ByteBuf in) {
        this.in = in;
    }

    public ByteBuf buffer() {
        return in;
    }

    public int remaining() {
        return in.readableBytes();
    }

    private void need(int bytes, String what) {
        if (in.readableBytes() < bytes) {
            throw new XdrException("truncated XDR: " + what + " needs " + bytes + " bytes, " + in.readableBytes() + " left");
        }
    }

    public int readInt() {
        need(4, "int");
        return in.readInt();
    }

    public long readUnsignedInt() {
        need(4, "unsigned int");
        return in.readUnsignedInt();
    }

    public long readHyper() {
        need(8, "hyper");
        return in.readLong();
    }

    public boolean readBoolean() {
        int v = readInt();
        if (v != 0 && v != 1) {
            throw new XdrException("XDR bool is " + v + ", not 0 or 1");
        }
        return v == 1;
    }

    /** An enum value that must lie in {@code [0, max]}. */
    public int readEnum(int max, String what) {
        int v = readInt();
        if (v < 0 || v > max) {
            throw new XdrException(what + " has impossible value " + v);
        }
        return v;
    }

    private int readLength(int max, String what) {
        int len = readInt();
        if (len < 0 || len > max) {
            throw new XdrException(what + " length " + Integer.toUnsignedString(len) + " exceeds maximum " + max);
        }
        int padded = len + XdrEncoder.padding(len);
        need(padded, what);
        return len;
    }

    public byte[] readOpaque(int max, String what) {
        int len = readLength(max, what);
        byte[] b = new byte[len];
        in.readBytes(b);
        in.skipBytes(XdrEncoder.padding(len));
        return b;
    }

    /** Variable-length opaque as a retained slice of the message (no copy); the caller releases it. */
    public ByteBuf readOpaqueRetainedSlice(int max, String what) {
        int len = readLength(max, what);
        ByteBuf slice = in.readRetainedSlice(len);
        in.skipBytes(XdrEncoder.padding(len));
        return slice;
    }

    public byte[] readFixedOpaque(int len, String what) {
        need(len + XdrEncoder.padding(len), what);
        byte[] b = new byte[len];
        in.readBytes(b);
        in.skipBytes(XdrEncoder.padding(len));
        return b;
    }

    public String readString(int max, String what) {
        return new String(readOpaque(max, what), StandardCharsets.UTF_8);
    }

    public void skip(int bytes, String what) {
        need(bytes, what);
        in.skipBytes(bytes);
    }
}
