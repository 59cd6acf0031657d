package io.tapdisk4j.nbd;

import io.netty.buffer.ByteBuf;

/**
 * A transmission request. {@code data} holds a WRITE's payload (one reference, owned by whoever holds the
 * request) and is null otherwise, and also when the payload was larger than the receiver accepts: the
 * decoder then discarded the payload and set {@code payloadDiscarded}.
 */
public record NbdRequest(int flags, int type, long cookie, long offset, long length, ByteBuf data,
                         boolean payloadDiscarded) {

    public static NbdRequest of(int flags, int type, long cookie, long offset, long length) {
        return new NbdRequest(flags, type, cookie, offset, length, null, false);
    }

    public static NbdRequest write(int flags, long cookie, long offset, ByteBuf data) {
        return new NbdRequest(flags, NbdProtocol.CMD_WRITE, cookie, offset, data.readableBytes(), data, false);
    }

    public boolean has(int flag) {
        return (flags & flag) != 0;
    }

    /** Releases the payload, if any. */
    public void release() {
        if (data != null && data.refCnt() > 0) {
            data.release();
        }
    }

    @Override
    public String toString() {
        return "NbdRequest[" + NbdProtocol.commandName(type) + " flags=0x" + Integer.toHexString(flags)
                + " cookie=" + cookie + " offset=" + offset + " length=" + length + "]";
    }
}
