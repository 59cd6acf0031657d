package io.tapdisk4j.iscsi.target.scsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.tapdisk4j.iscsi.scsi.ScsiStatus;

/**
 * How a command ended: status, sense (CHECK CONDITION only) and Data-In (owned: whoever receives the
 * result releases it). {@code transferLength} is the length the command itself describes (SPDTL), from
 * which the transport computes residuals against what the initiator expected.
 */
public record ScsiResult(int status, byte[] sense, ByteBuf data, long transferLength) {


    /** Data-In: the buffer as the command produced it, its length the SPDTL. */
    public static ScsiResult data(ByteBuf data) {
        return new ScsiResult(ScsiStatus.GOOD, null, data, data.readableBytes());
    }

    /** Data-In of a command whose allocation length cut the data (SPDTL is the allocation length). */
    public static ScsiResult data(byte[] bytes, int allocationLength) {
        int n = Math.min(bytes.length, allocationLength);
        return new ScsiResult(ScsiStatus.GOOD, null, Unpooled.wrappedBuffer(bytes, 0, n), n);
    }

    public static ScsiResult good(long transferLength) {
        return new ScsiResult(ScsiStatus.GOOD, null, Unpooled.EMPTY_BUFFER, transferLength);
    }

    public static ScsiResult good() {
        return good(0);
    }

    public static ScsiResult status(int status) {
        return new ScsiResult(status, null, Unpooled.EMPTY_BUFFER, 0);
    }

    public static ScsiResult checkCondition(byte[] sense) {
        return new ScsiResult(ScsiStatus.CHECK_CONDITION, sense, Unpooled.EMPTY_BUFFER, 0);
    }
}
