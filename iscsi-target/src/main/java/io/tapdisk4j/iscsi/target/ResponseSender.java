package io.tapdisk4j.iscsi.target;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.scsi.ScsiStatus;
import io.tapdisk4j.iscsi.target.scsi.ScsiResult;

/**
 * Turns a {@link ScsiResult} into PDUs (RFC 7143 11.4, 11.7): Data-In in segments the initiator accepts,
 * status folded into the last Data-In when the command succeeded (phase collapse), otherwise a SCSI
 * Response carrying the sense data; residual counts from the initiator's expected length and the
 * command's own. Data-In segments are slices of the device's buffer: nothing is copied.
 */
final class ResponseSender {

    private static final int OVERFLOW = 0x04;
    private static final int UNDERFLOW = 0x02;

    private final FullFeatureHandler connection;
    private final int maxSegment;

    ResponseSender(FullFeatureHandler connection, int maxSegment) {
        this.connection = connection;
        this.maxSegment = maxSegment;
    }

    /** Sends the response of {@code task}; takes over the result's data. */
    void send(ChannelHandlerContext ctx, Task task, ScsiResult result) {
        ByteBuf data = result.data();
        try {
            boolean good = result.status() == ScsiStatus.GOOD || result.status() == ScsiStatus.CONDITION_MET;
            int residualFlags = 0;
            long residual = 0;
            if (good) {
                long spdtl = result.transferLength();
                if (spdtl > task.expectedLength) {
                    residualFlags = OVERFLOW;
                    residual = spdtl - task.expectedLength;
                } else if (spdtl < task.expectedLength) {
                    residualFlags = UNDERFLOW;
                    residual = task.expectedLength - spdtl;
                }
            }
            int residualInt = (int) Math.min(residual, 0xffffffffL);
            int length = task.read ? Math.min(data.readableBytes(), task.expectedLength) : 0;
            int dataSN = 0;
            boolean collapse = good && result.sense() == null && length > 0;
            for (int offset = 0; offset < length; offset += maxSegment) {
                int n = Math.min(maxSegment, length - offset);
                boolean last = offset + n == length;
                Pdu p = TargetPdus.dataIn(task.lun, task.itt, dataSN++, offset, last, last && collapse, result.status(),
                        residualFlags, residualInt, data.retainedSlice(data.readerIndex() + offset, n));
                connection.send(ctx, p, last && collapse);
            }
            if (collapse) {
                return;
            }
            ByteBuf sense = null;
            if (result.sense() != null) {
                byte[] s = result.sense();
                sense = ctx.alloc().buffer(2 + s.length);
                sense.writeShort(s.length).writeBytes(s);
            }
            int expDataSN = task.read ? dataSN : task.r2tCount;
            connection.send(ctx, TargetPdus.scsiResponse(task.itt, result.status(), residualFlags, residualInt, expDataSN,
                    sense), true);
        } finally {
            data.release();
        }
    }
}
