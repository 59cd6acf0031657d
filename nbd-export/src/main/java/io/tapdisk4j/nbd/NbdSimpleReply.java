package io.tapdisk4j.nbd;

import io.netty.buffer.ByteBuf;

/** A simple reply: error (0 for success) and cookie, followed by a successful READ's data when {@code data != null}. */
public record NbdSimpleReply(long cookie, int error, ByteBuf data) {

    public static NbdSimpleReply ok(long cookie) {
        return new NbdSimpleReply(cookie, 0, null);
    }

    public static NbdSimpleReply error(long cookie, int error) {
        return new NbdSimpleReply(cookie, error, null);
    }

    public void release() {
        if (data != null && data.refCnt() > 0) {
            data.release();
        }
    }
}
