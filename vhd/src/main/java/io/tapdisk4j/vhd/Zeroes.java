package io.tapdisk4j.vhd;

import io.netty.buffer.ByteBuf;

import java.lang.foreign.MemorySegment;

/** Whether a buffer holds only zero bytes: a vectorised comparison against a zero region, without copying. */
final class Zeroes {

    private static final MemorySegment ZERO = MemorySegment.ofArray(new byte[VdiOperations.CHUNK]);

    private Zeroes() {
    }

    static boolean all(ByteBuf b) {
        int n = b.readableBytes();
        if (n > ZERO.byteSize()) {
            return false; // larger than any copy chunk: not worth a second pass
        }
        if (b.nioBufferCount() != 1) {
            for (int i = b.readerIndex(); i < b.writerIndex(); i++) {
                if (b.getByte(i) != 0) {
                    return false;
                }
            }
            return true;
        }
        MemorySegment m = MemorySegment.ofBuffer(b.nioBuffer(b.readerIndex(), n));
        return m.mismatch(ZERO.asSlice(0, n)) < 0;
    }
}
