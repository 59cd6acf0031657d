package io.tapdisk4j.nfs.rpc;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.TooLongFrameException;

import java.util.List;

/**
 * RFC 5531 section 11 record marking: each fragment starts with a 4-byte header whose top bit marks the
 * last fragment of a record and whose low 31 bits are the fragment length. Emits one ByteBuf per complete
 * record. A record longer than {@code maxRecordSize}, or more than {@code maxFragments} fragments (a stream
 * of empty fragments would otherwise spin forever), is an error: the pipeline gets an exception and the
 * client closes the connection.
 */
public final class RecordMarkingDecoder extends ByteToMessageDecoder {

    private final int maxRecordSize;
    private final int maxFragments;
    private CompositeByteBuf record;
    private int fragments;
    /** After a framing error the stream cannot be resynchronised: everything else is discarded. */
    private boolean failed;

    public RecordMarkingDecoder(int maxRecordSize) {
        this(maxRecordSize, 1024);
    }

    public RecordMarkingDecoder(int maxRecordSize, int maxFragments) {
        this.maxRecordSize = maxRecordSize;
        this.maxFragments = maxFragments;
        // READ replies are large: gathering socket reads into a composite avoids copying each megabyte into
        // one contiguous cumulation buffer (and again whenever a retained READ slice pins the old one).
        setCumulator(COMPOSITE_CUMULATOR);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (failed) {
            in.skipBytes(in.readableBytes());
            return;
        }
        while (in.readableBytes() >= 4) {
            int header = in.getInt(in.readerIndex());
            boolean last = header < 0;
            int length = header & 0x7fffffff;
            int soFar = record == null ? 0 : record.readableBytes();
            if (length > maxRecordSize - soFar) {
                discard();
                in.skipBytes(in.readableBytes());
                throw new TooLongFrameException("RPC record fragment of " + length + " bytes (after " + soFar
                        + ") exceeds the limit of " + maxRecordSize);
            }
            if (in.readableBytes() < 4 + length) {
                return;
            }
            in.skipBytes(4);
            ByteBuf fragment = in.readRetainedSlice(length);
            if (last && record == null) {
                out.add(fragment);
                continue;
            }
            if (record == null) {
                record = ctx.alloc().compositeBuffer(maxFragments);
            }
            record.addComponent(true, fragment);
            if (++fragments > maxFragments) {
                discard();
                in.skipBytes(in.readableBytes());
                throw new CorruptedFrameException("RPC record split into more than " + maxFragments + " fragments");
            }
            if (last) {
                out.add(record);
                record = null;
                fragments = 0;
            }
        }
    }

    private void discard() {
        failed = true;
        if (record != null) {
            record.release();
            record = null;
        }
        fragments = 0;
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        if (record != null) {
            record.release();
            record = null;
        }
    }
}
