package io.tapdisk4j.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * A large payload (READ data in the client, WRITE data in the server) received into a buffer of its own
 * instead of the decoder's cumulation: the bytes that came with its header are copied in, and the socket
 * reads the rest straight into it ({@link #readTarget()}, handed out through {@link DirectReads}).
 */
final class OwnPayload {

    /** Below this many missing bytes the socket reads into an ordinary buffer (the copy is small). */
    static final int DIRECT_READ_MIN = 16 * 1024;

    /** What a message reaching the decoder was. */
    enum Received { NOT_MINE, MORE, COMPLETE, ORPHAN }

    /** The payload while incomplete (writer index: bytes so far), else null. */
    private ByteBuf payload;
    /** The slice of {@code payload} last handed out for a read straight into it. */
    private ByteBuf directRead;

    boolean active() {
        return payload != null;
    }

    /** Starts receiving {@code length} bytes, with what {@code in} holds of them. */
    void start(ByteBufAllocator alloc, int length, ByteBuf in) {
        payload = alloc.directBuffer(length, length);
        in.readBytes(payload, Math.min(length, in.readableBytes()));
    }

    /** Copies what {@code in} holds of the rest; true once the payload is complete. */
    boolean fill(ByteBuf in) {
        in.readBytes(payload, Math.min(payload.writableBytes(), in.readableBytes()));
        return !payload.isWritable();
    }

    /** The missing part of the payload for the socket to read into, or null when little or nothing is missing. */
    ByteBuf readTarget() {
        if (payload == null || payload.writableBytes() < DIRECT_READ_MIN) {
            return null;
        }
        ByteBuf slice = payload.retainedSlice(payload.writerIndex(), payload.writableBytes());
        slice.clear();
        directRead = slice;
        return slice;
    }

    /** Accounts a read that went straight into the payload, or says that {@code msg} is an ordinary one. */
    Received received(Object msg) {
        if (msg == null || msg != directRead) {
            return Received.NOT_MINE;
        }
        directRead = null;
        ByteBuf slice = (ByteBuf) msg;
        int n = slice.readableBytes();
        slice.release();
        if (payload == null) {
            return Received.ORPHAN; // the decoder was removed meanwhile: the data has no one to go to
        }
        payload.writerIndex(payload.writerIndex() + n); // the bytes are already in place
        return payload.isWritable() ? Received.MORE : Received.COMPLETE;
    }

    /** The complete payload, handed over. */
    ByteBuf take() {
        ByteBuf p = payload;
        payload = null;
        return p;
    }

    void release() {
        if (payload != null) {
            payload.release();
            payload = null;
        }
    }
}
