package io.tapdisk4j.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Extent;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * One structured reply chunk. Its payload is {@code head} followed by {@code data}: kept apart so that a
 * READ's data buffer goes to the socket as the device returned it, behind an 8-byte offset head, with no
 * copy. Both buffers are owned by the chunk (one reference each); {@code data} may be null.
 */
public record NbdChunk(long cookie, int flags, int type, ByteBuf head, ByteBuf data) {

    public boolean done() {
        return (flags & NbdProtocol.REPLY_FLAG_DONE) != 0;
    }

    public boolean isError() {
        return (type & (1 << 15)) != 0;
    }

    public int payloadLength() {
        return head.readableBytes() + (data == null ? 0 : data.readableBytes());
    }

    public static NbdChunk none(long cookie) {
        return new NbdChunk(cookie, NbdProtocol.REPLY_FLAG_DONE, NbdProtocol.REPLY_TYPE_NONE, Unpooled.EMPTY_BUFFER, null);
    }

    /** Data at {@code offset}; takes over the caller's reference of {@code data}. */
    public static NbdChunk offsetData(long cookie, long offset, ByteBuf data, boolean done) {
        ByteBuf head = Buffers.direct(8).writeLong(offset);
        return new NbdChunk(cookie, done ? NbdProtocol.REPLY_FLAG_DONE : 0, NbdProtocol.REPLY_TYPE_OFFSET_DATA, head, data);
    }

    public static NbdChunk offsetHole(long cookie, long offset, int length, boolean done) {
        ByteBuf head = Buffers.direct(12).writeLong(offset).writeInt(length);
        return new NbdChunk(cookie, done ? NbdProtocol.REPLY_FLAG_DONE : 0, NbdProtocol.REPLY_TYPE_OFFSET_HOLE, head, null);
    }

    public static NbdChunk error(long cookie, int errno, String message, boolean done) {
        byte[] m = message == null ? new byte[0] : message.getBytes(StandardCharsets.UTF_8);
        int len = Math.min(m.length, NbdProtocol.MAX_STRING);
        ByteBuf head = Buffers.direct(6 + len).writeInt(errno).writeShort(len).writeBytes(m, 0, len);
        return new NbdChunk(cookie, done ? NbdProtocol.REPLY_FLAG_DONE : 0, NbdProtocol.REPLY_TYPE_ERROR, head, null);
    }

    /** base:allocation descriptors: (u32 length, u32 flags) per extent. */
    public static NbdChunk blockStatus(long cookie, int contextId, List<Extent> extents, boolean done) {
        ByteBuf head = Buffers.direct(4 + 8 * extents.size()).writeInt(contextId);
        for (Extent e : extents) {
            head.writeInt((int) e.length());
            head.writeInt((e.hole() ? NbdProtocol.STATE_HOLE : 0) | (e.zero() ? NbdProtocol.STATE_ZERO : 0));
        }
        return new NbdChunk(cookie, done ? NbdProtocol.REPLY_FLAG_DONE : 0, NbdProtocol.REPLY_TYPE_BLOCK_STATUS, head, null);
    }

    /** Descriptors of any meta context: (u32 length, u32 value) per run. */
    public static NbdChunk blockStatusRuns(long cookie, int contextId, List<io.tapdisk4j.block.BlockStatus> runs, boolean done) {
        ByteBuf head = Buffers.direct(4 + 8 * runs.size()).writeInt(contextId);
        for (io.tapdisk4j.block.BlockStatus r : runs) {
            head.writeInt((int) r.length());
            head.writeInt(r.value());
        }
        return new NbdChunk(cookie, done ? NbdProtocol.REPLY_FLAG_DONE : 0, NbdProtocol.REPLY_TYPE_BLOCK_STATUS, head, null);
    }

    public void release() {
        if (head.refCnt() > 0) {
            head.release();
        }
        if (data != null && data.refCnt() > 0) {
            data.release();
        }
    }

    /** The error number of an error chunk (its payload starts with it). */
    public int errorNumber() {
        return head.getInt(head.readerIndex());
    }

    /** The message of an error chunk. */
    public String errorMessage() {
        int len = head.getUnsignedShort(head.readerIndex() + 4);
        return head.toString(head.readerIndex() + 6, Math.min(len, head.readableBytes() - 6), StandardCharsets.UTF_8);
    }
}
