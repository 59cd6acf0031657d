package io.tapdisk4j.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.util.List;
import java.util.zip.CRC32C;

/**
 * Frames the byte stream into {@link Pdu}s: BHS, AHS (skipped), optional header digest, data segment
 * padded to four bytes, optional data digest (RFC 7143 11.1). Nothing is emitted until a whole PDU is
 * buffered, so a truncated PDU costs nothing but memory bounded by the declared maximum; a segment larger
 * than the initiator declared, an opcode the peer may not send, or a digest mismatch raises
 * {@link PduException} and the connection is closed by the handler behind (ERL 0 has no digest recovery).
 *
 * <p>Placement: once a {@link DataInSink} is set, a Data-In whose data segment is still mostly on its way
 * is written straight into the buffer the sink names. The bytes already received are copied there, and
 * {@link PduReadAllocator} makes the socket read the rest into that buffer ({@link #nextReadTarget()}),
 * so a large read reaches its destination without passing through receive buffers. The PDU is emitted
 * once its data (and padding and digest) are complete, with {@link Pdu#placedInto()} set.
 *
 * <p>On a target ({@link #placeWriteData}), a SCSI Command's immediate data and a Data-Out's data are placed the
 * same way, each into a pooled buffer of its own of exactly its length: write data reaches the block device
 * from the buffer the socket read it into, without a copy out of receive buffers.
 */
public final class PduDecoder extends ByteToMessageDecoder {

    /** Below this many missing data bytes, waiting for the whole PDU in the receive buffers costs less. */
    static final int PLACEMENT_MIN = 16384;

    private final DigestSettings settings;
    private final boolean fromTarget;
    private DataInSink sink;
    /** Whether large write data segments (target side) are read straight into buffers of their own. */
    private boolean placeWriteData;
    /** The Data-In being placed, null otherwise. */
    private Placement placement;
    /** The read target last handed out (a slice of the placement's destination), to recognise it when it comes back. */
    private ByteBuf issued;
    /** After a placement, read only the next header (its length), so that another large Data-In copies nothing. */
    private boolean headerNext;

    /** A Data-In on its way into its destination: the header, where the data goes and how much has arrived. */
    private static final class Placement {
        final byte[] bhs;
        final ByteBuf destination;
        final int offset;
        final int length;
        final int padding;
        final boolean digest;
        int placed;

        Placement(byte[] bhs, ByteBuf destination, int offset, int length, int padding, boolean digest) {
            this.bhs = bhs;
            this.destination = destination;
            this.offset = offset;
            this.length = length;
            this.padding = padding;
            this.digest = digest;
        }

        int trailer() {
            return padding + (digest ? 4 : 0);
        }
    }

    private PduDecoder(DigestSettings settings, boolean fromTarget) {
        this.settings = settings;
        this.fromTarget = fromTarget;
    }

    /** The decoder an initiator uses: only target opcodes are accepted. */
    public static PduDecoder forInitiator(DigestSettings settings) {
        return new PduDecoder(settings, true);
    }

    /** The decoder a target (or a test standing in for one) uses: only initiator opcodes are accepted. */
    public static PduDecoder forTarget(DigestSettings settings) {
        return new PduDecoder(settings, false);
    }

    /** Places large Data-In segments where {@code sink} says from now on (null: never). Event loop only. */
    public void placeDataIn(DataInSink sink) {
        this.sink = sink;
    }

    /** Places large immediate data and Data-Out segments into pooled buffers of their own from now on. */
    public void placeWriteData(boolean on) {
        this.placeWriteData = on;
    }

    /**
     * Where the next socket read should go while a placement waits for data: a slice of the destination
     * covering exactly the missing bytes (the caller owns one reference). Null when nothing is being placed.
     */
    ByteBuf nextReadTarget() {
        Placement p = placement;
        if (p == null || p.placed == p.length || broken) {
            return null;
        }
        ByteBuf t = p.destination.retainedSlice(p.offset + p.placed, p.length - p.placed).clear();
        issued = t;
        return t;
    }

    /** The size of the next ordinary read when only a header should be read, else 0. */
    int headerOnlyRead() {
        return headerNext ? Pdu.BHS_LENGTH + (settings.headerDigest() ? 4 : 0) : 0;
    }

    /**
     * Bytes of the PDU in progress that the socket has yet to deliver (never more than certainly follow); 0
     * between PDUs. The session's receive coalescing waits for at least these before waking up.
     */
    public int bytesMissing() {
        if (broken) {
            return 0;
        }
        ByteBuf buffered = internalBuffer();
        int have = buffered.readableBytes();
        Placement p = placement;
        if (p != null) {
            return Math.max(0, p.length - p.placed + p.trailer() - have);
        }
        if (have == 0) {
            return 0;
        }
        if (have < Pdu.BHS_LENGTH) {
            return Pdu.BHS_LENGTH - have;
        }
        int start = buffered.readerIndex();
        int total = settings.wireLength((buffered.getByte(start + 4) & 0xff) * 4, buffered.getUnsignedMedium(start + 5));
        return Math.max(0, total - have);
    }

    /** After a framing error nothing later in the stream can be trusted: it is dropped unread. */
    private boolean broken;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (issued == null || msg != issued) {
            headerNext = false;
            super.channelRead(ctx, msg);
            return;
        }
        // The socket read into the destination itself: count the bytes, nothing to copy.
        issued = null;
        ByteBuf target = (ByteBuf) msg;
        int n = target.writerIndex();
        target.release();
        Placement p = placement;
        if (p == null || broken) {
            return;
        }
        p.placed += n;
        if (p.placed == p.length && p.trailer() == 0) {
            ctx.fireChannelRead(finishPlacement());
        }
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (broken) {
            in.skipBytes(in.readableBytes());
            return;
        }
        try {
            if (placement != null) {
                continuePlacement(in, out);
            } else {
                decodeOne(ctx, in, out);
            }
        } catch (PduException e) {
            broken = true;
            in.skipBytes(in.readableBytes());
            releasePlacement();
            throw e;
        }
    }

    private void decodeOne(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (in.readableBytes() < Pdu.BHS_LENGTH) {
            return;
        }
        int start = in.readerIndex();
        int opcode = in.getByte(start) & 0x3f;
        boolean targetOpcode = Opcode.isTargetOpcode(opcode);
        if (fromTarget != targetOpcode || (!targetOpcode && !isInitiatorOpcode(opcode))) {
            throw new PduException("unexpected " + Opcode.name(opcode) + " from the "
                    + (fromTarget ? "target" : "initiator"));
        }
        int ahsLength = (in.getByte(start + 4) & 0xff) * 4;
        int dataLength = in.getUnsignedMedium(start + 5);
        int limit = settings.maxRecvDataSegmentLength();
        if (dataLength > limit) {
            throw new PduException(Opcode.name(opcode) + " data segment of " + dataLength
                    + " bytes exceeds MaxRecvDataSegmentLength " + limit);
        }
        boolean hd = settings.headerDigest();
        boolean dd = settings.dataDigest() && dataLength > 0;
        int headerLength = Pdu.BHS_LENGTH + ahsLength;
        int dataStart = start + headerLength + (hd ? 4 : 0);
        int padding = Digests.padding(dataLength);
        int padded = dataLength + padding;
        int total = settings.wireLength(ahsLength, dataLength);
        if (in.readableBytes() < total) {
            if (in.readableBytes() >= dataStart - start && dataLength - (in.writerIndex() - dataStart) >= PLACEMENT_MIN) {
                if (opcode == Opcode.DATA_IN && sink != null) {
                    checkHeaderDigest(in, start, headerLength, hd, opcode);
                    int offset = in.getInt(start + 40);
                    ByteBuf destination = sink.destination(in.getInt(start + 16), offset, dataLength);
                    if (destination != null) {
                        startPlacement(in, start, dataStart, destination.retain(), offset, dataLength, padding, dd);
                    }
                } else if (placeWriteData && (opcode == Opcode.SCSI_COMMAND || opcode == Opcode.DATA_OUT)) {
                    checkHeaderDigest(in, start, headerLength, hd, opcode);
                    ByteBuf own = ctx.alloc().directBuffer(dataLength, dataLength);
                    startPlacement(in, start, dataStart, own, 0, dataLength, padding, dd);
                }
            }
            return;
        }
        checkHeaderDigest(in, start, headerLength, hd, opcode);
        if (dd) {
            int expected = Digests.crc32c(in, dataStart, padded, 0);
            int got = in.getIntLE(dataStart + padded);
            if (expected != got) {
                throw new PduException(String.format("data digest mismatch on %s: got 0x%08x, computed 0x%08x",
                        Opcode.name(opcode), got, expected));
            }
        }
        byte[] bhs = header(in, start);
        ByteBuf data = dataLength == 0 ? Unpooled.EMPTY_BUFFER : in.retainedSlice(dataStart, dataLength);
        in.readerIndex(start + total);
        out.add(new Pdu(bhs, data));
    }

    private static void checkHeaderDigest(ByteBuf in, int start, int headerLength, boolean hd, int opcode) {
        if (!hd) {
            return;
        }
        int expected = Digests.crc32c(in, start, headerLength, 0);
        int got = in.getIntLE(start + headerLength);
        if (expected != got) {
            throw new PduException(String.format("header digest mismatch on %s: got 0x%08x, computed 0x%08x",
                    Opcode.name(opcode), got, expected));
        }
    }

    private static byte[] header(ByteBuf in, int start) {
        byte[] bhs = new byte[Pdu.BHS_LENGTH];
        in.getBytes(start, bhs);
        // The data segment length lives in the data itself from here on.
        bhs[4] = 0;
        bhs[5] = bhs[6] = bhs[7] = 0;
        return bhs;
    }

    /**
     * The header is complete, the data is not: put what is here at {@code offset} of {@code destination} (one
     * reference of which the placement now owns), and the rest as it comes.
     */
    private void startPlacement(ByteBuf in, int start, int dataStart, ByteBuf destination, int offset, int dataLength,
                                int padding, boolean dd) {
        if (offset < 0 || (long) offset + dataLength > destination.capacity()) {
            destination.release();
            throw new PduException("Data-In of " + dataLength + " bytes at offset " + offset + " does not fit a "
                    + destination.capacity() + "-byte buffer");
        }
        Placement p = new Placement(header(in, start), destination, offset, dataLength, padding, dd);
        int here = in.writerIndex() - dataStart;
        destination.setBytes(offset, in, dataStart, here);
        p.placed = here;
        in.readerIndex(in.writerIndex());
        placement = p;
    }

    /** Bytes of a placement's data that came in ordinary buffers after all, then its padding and digest. */
    private void continuePlacement(ByteBuf in, List<Object> out) {
        Placement p = placement;
        if (p.placed < p.length) {
            int n = Math.min(in.readableBytes(), p.length - p.placed);
            p.destination.setBytes(p.offset + p.placed, in, in.readerIndex(), n);
            in.skipBytes(n);
            p.placed += n;
            if (p.placed < p.length) {
                return;
            }
        }
        if (in.readableBytes() < p.trailer()) {
            return;
        }
        if (p.digest) {
            CRC32C crc = new CRC32C();
            Digests.update(crc, p.destination, p.offset, p.length);
            Digests.update(crc, in, in.readerIndex(), p.padding);
            int got = in.getIntLE(in.readerIndex() + p.padding);
            if ((int) crc.getValue() != got) {
                throw new PduException(String.format("data digest mismatch on %s: got 0x%08x, computed 0x%08x",
                        Opcode.name(p.bhs[0] & 0x3f), got, (int) crc.getValue()));
            }
        }
        in.skipBytes(p.trailer());
        out.add(finishPlacement());
    }

    private Pdu finishPlacement() {
        Placement p = placement;
        placement = null;
        issued = null;
        headerNext = true;
        Pdu pdu = new Pdu(p.bhs, p.destination.retainedSlice(p.offset, p.length)).placedInto(p.destination);
        p.destination.release();
        return pdu;
    }

    private void releasePlacement() {
        issued = null;
        if (placement != null) {
            placement.destination.release();
            placement = null;
        }
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        releasePlacement();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        releasePlacement();
        super.channelInactive(ctx);
    }

    private static boolean isInitiatorOpcode(int opcode) {
        return opcode <= Opcode.LOGOUT_REQUEST || opcode == Opcode.SNACK_REQUEST;
    }
}
