package io.tapdisk4j.iscsi.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.iscsi.pdu.Pdu;

/**
 * Gathers a read's Data-In PDUs (RFC 7143 11.7) at their buffer offsets into one dom0 buffer per task: the
 * decoder reads large segments straight into it ({@link #destination}); a read answered in one segment keeps
 * the received bytes themselves. Loop-confined, like the tasks.
 */
final class DataInAssembler {

    private DataInAssembler() {
    }

    /**
     * The decoder's {@link io.tapdisk4j.iscsi.pdu.DataInSink} for {@code t}: its own buffer (allocated at the
     * read's full length on first use), or null when the segment does not fit it (then {@link #accept} says why).
     */
    static ByteBuf destination(Task t, int offset, int length) {
        int total = t.command.readLength();
        if (offset < 0 || length <= 0 || (long) offset + length > total) {
            return null;
        }
        if (t.readBuffer == null) {
            t.readBuffer = Buffers.direct(total); // aligned from 4 KiB: a file opened with O_DIRECT can take it as it is
        } else if (t.readBuffer.capacity() < total) {
            return null;
        }
        return t.readBuffer;
    }

    /** Takes one Data-In for {@code t}; returns null, or the protocol error it is. */
    static String accept(Task t, Pdu pdu) {
        int length = t.command.readLength();
        int offset = pdu.bufferOffset();
        int n = pdu.dataLength();
        if (length == 0 || offset < 0 || (long) offset + n > length) {
            return "Data-In of " + n + " bytes at offset " + offset + " for a " + length + "-byte read";
        }
        ByteBuf placed = pdu.placedInto();
        if (placed != null) {
            // The decoder wrote the data into the task's buffer already (destination).
            if (placed != t.readBuffer) {
                return "Data-In placed into a buffer task 0x" + Integer.toHexString(t.itt) + " no longer holds";
            }
            t.readBuffer.writerIndex(Math.max(t.readBuffer.writerIndex(), offset + n));
        } else if (n == length && offset == 0 && t.readBuffer == null) {
            // The whole read in one segment: hand over the received bytes themselves, no copy.
            t.readBuffer = pdu.data().retainedSlice();
        } else if (n > 0) {
            if (t.readBuffer == null || t.readBuffer.capacity() < length) {
                ByteBuf whole = Buffers.direct(length);
                if (t.readBuffer != null) {
                    whole.writeBytes(t.readBuffer);
                    t.readBuffer.release();
                }
                t.readBuffer = whole;
            }
            t.readBuffer.setBytes(offset, pdu.data(), pdu.data().readerIndex(), n);
            t.readBuffer.writerIndex(Math.max(t.readBuffer.writerIndex(), offset + n));
        }
        return null;
    }

    /**
     * Hands over {@code t}'s data at its final length (the read's length less the residual), taking it out of
     * the task; bytes the target never sent (an underflow) are zeroes, not stale pool memory.
     */
    static ByteBuf take(Task t, int residual) {
        ByteBuf data = t.readBuffer;
        t.readBuffer = null;
        int length = Math.max(0, t.command.readLength() - Math.max(0, residual));
        if (data == null) {
            data = length == 0 ? Unpooled.EMPTY_BUFFER : Buffers.direct(length);
        }
        if (data.writerIndex() < length) {
            data.setZero(data.writerIndex(), length - data.writerIndex());
        }
        data.writerIndex(length);
        return data;
    }

    /** The fewest bytes the target's next PDU for {@code t} can take if the task goes as asked: its next Data-In, else a status. */
    static int nextPduPayload(Task t, int maxRecvDataSegmentLength) {
        int remaining = t.command.readLength() - (t.readBuffer == null ? 0 : t.readBuffer.writerIndex());
        return Math.clamp(remaining, 0, maxRecvDataSegmentLength);
    }
}
