package io.tapdisk4j.iscsi.pdu;

import io.netty.buffer.ByteBuf;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * CRC32C header and data digests (RFC 7143 13.1 and Appendix B). The digest travels least significant
 * byte first, the byte order libiscsi, Linux and tgt use for the value {@link CRC32C} computes.
 */
public final class Digests {

    private Digests() {
    }

    public static int crc32c(byte[] bytes, int offset, int length) {
        CRC32C c = new CRC32C();
        c.update(bytes, offset, length);
        return (int) c.getValue();
    }

    /** CRC32C of {@code length} bytes of {@code buf} at {@code index}, followed by {@code padding} zero bytes. */
    public static int crc32c(ByteBuf buf, int index, int length, int padding) {
        CRC32C c = new CRC32C();
        update(c, buf, index, length);
        for (int i = 0; i < padding; i++) {
            c.update(0);
        }
        return (int) c.getValue();
    }

    static void update(CRC32C c, ByteBuf buf, int index, int length) {
        if (length == 0) {
            return;
        }
        if (buf.nioBufferCount() == 1) {
            c.update(buf.nioBuffer(index, length));
        } else if (buf.nioBufferCount() > 1) {
            for (ByteBuffer b : buf.nioBuffers(index, length)) {
                c.update(b);
            }
        } else {
            byte[] tmp = new byte[length];
            buf.getBytes(index, tmp);
            c.update(tmp, 0, length);
        }
    }

    /** Padding that brings {@code length} to a multiple of four. */
    public static int padding(int length) {
        return (4 - (length & 3)) & 3;
    }
}
