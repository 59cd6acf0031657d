package io.tapdisk4j.ring.backend;

import io.netty.buffer.ByteBuf;

import java.lang.foreign.MemorySegment;

/** dom0 buffers as memory segments, for grant copy and page copies. */
final class LocalMemory {

    private LocalMemory() {
    }

    /** {@code length} bytes of the direct buffer {@code buf} from {@code index}, as a native segment. */
    static MemorySegment of(ByteBuf buf, int index, int length) {
        if (buf.hasMemoryAddress()) {
            // No ByteBuffer duplicate per request; the caller holds a reference for as long as it copies.
            return MemorySegment.ofAddress(buf.memoryAddress() + index).reinterpret(length);
        }
        return MemorySegment.ofBuffer(buf.nioBuffer(index, length));
    }
}
