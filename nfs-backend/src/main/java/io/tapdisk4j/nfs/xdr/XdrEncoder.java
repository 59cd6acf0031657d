package io.tapdisk4j.nfs.xdr;

import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;

/** RFC 4506 encoding onto a ByteBuf: big-endian 4-byte units, variable data padded to a multiple of 4. */
public final class XdrEncoder {

    private XdrEncoder() {
    }

    public static void writeInt(ByteBuf out, int value) {
        out.writeInt(value);
    }

    /** An unsigned int (held in a long so values above 2^31 survive). */
    public static void writeUnsignedInt(ByteBuf out, long value) {
        out.writeInt((int) value);
    }

    public static void writeHyper(ByteBuf out, long value) {
        out.writeLong(value);
    }

    public static void writeBoolean(ByteBuf out, boolean value) {
        out.writeInt(value ? 1 : 0);
    }

    /** Variable-length opaque: length, bytes, zero padding. */
    public static void writeOpaque(ByteBuf out, byte[] data) {
        out.writeInt(data.length);
        out.writeBytes(data);
        out.writeZero(padding(data.length));
    }

    /** Fixed-length opaque: the bytes and their padding, no length. */
    public static void writeFixedOpaque(ByteBuf out, byte[] data) {
        out.writeBytes(data);
        out.writeZero(padding(data.length));
    }

    public static void writeString(ByteBuf out, String s) {
        writeOpaque(out, s.getBytes(StandardCharsets.UTF_8));
    }

    /** Bytes of zero padding after {@code length} bytes of data. */
    public static int padding(int length) {
        return (4 - (length & 3)) & 3;
    }
}
