package io.tapdisk4j.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.util.List;

/**
 * Frames the byte stream into {@link Pdu}s: BHS, AHS (skipped), optional header digest, data segment
 * padded to four bytes, optional data digest (RFC 7143 11.1). Nothing is emitted until a whole PDU is
 * buffered, so a truncated PDU costs nothing but memory bounded by the declared maximum; a segment larger
 * than the initiator declared, an opcode the peer may not send, or a digest mismatch raises
 * {@link PduException} and the connection is closed by the handler behind (ERL 0 has no digest recovery).
 */
public final class PduDecoder extends ByteToMessageDecoder {

    private final DigestSettings settings;
    private final boolean fromTarget;

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

    /** After a framing error nothing later in the stream can be trusted: it is dropped unread. */
    private boolean broken;

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (broken) {
            in.skipBytes(in.readableBytes());
            return;
        }
        try {
            decodeOne(in, out);
        } catch (PduException e) {
            broken = true;
            in.skipBytes(in.readableBytes());
            throw e;
        }
    }

    private void decodeOne(ByteBuf in, List<Object> out) {
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
        int padded = dataLength + Digests.padding(dataLength);
        int total = headerLength + (hd ? 4 : 0) + padded + (dd ? 4 : 0);
        if (in.readableBytes() < total) {
            return;
        }
        if (hd) {
            int expected = Digests.crc32c(in, start, headerLength, 0);
            int got = in.getIntLE(start + headerLength);
            if (expected != got) {
                throw new PduException(String.format("header digest mismatch on %s: got 0x%08x, computed 0x%08x",
                        Opcode.name(opcode), got, expected));
            }
        }
        int dataStart = start + headerLength + (hd ? 4 : 0);
        if (dd) {
            int expected = Digests.crc32c(in, dataStart, padded, 0);
            int got = in.getIntLE(dataStart + padded);
            if (expected != got) {
                throw new PduException(String.format("data digest mismatch on %s: got 0x%08x, computed 0x%08x",
                        Opcode.name(opcode), got, expected));
            }
        }
        byte[] bhs = new byte[Pdu.BHS_LENGTH];
        in.getBytes(start, bhs);
        // The data segment length lives in the data itself from here on.
        bhs[4] = 0;
        bhs[5] = bhs[6] = bhs[7] = 0;
        ByteBuf data = dataLength == 0 ? Unpooled.EMPTY_BUFFER : in.retainedSlice(dataStart, dataLength);
        in.readerIndex(start + total);
        out.add(new Pdu(bhs, data));
    }

    private static boolean isInitiatorOpcode(int opcode) {
        return opcode <= Opcode.LOGOUT_REQUEST || opcode == Opcode.SNACK_REQUEST;
    }
}
