package io.tapdisk4j.testsupport.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.util.List;

/**
 * iSCSI PDUs: 48-byte basic header segment, TotalAHSLength (byte 4, in 4-byte words),
 * DataSegmentLength (bytes 5-7) padded to 4 bytes. Digests are not supported: the proxied initiator must
 * negotiate HeaderDigest=None and DataDigest=None (tgtd's default). Tag: the initiator task tag (bytes 16-19).
 */
final class IscsiPduFraming implements Framing {

    static final IscsiPduFraming INSTANCE = new IscsiPduFraming();
    static final int BHS = 48;

    @Override
    public String name() {
        return "iscsi-pdus";
    }

    @Override
    public ConnectionFraming newConnection() {
        return direction -> new Decoder();
    }

    static final class Decoder extends ByteToMessageDecoder {
        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            while (in.readableBytes() >= BHS) {
                int r = in.readerIndex();
                int ahs = in.getUnsignedByte(r + 4) * 4;
                int data = in.getUnsignedMedium(r + 5);
                int total = BHS + ahs + ((data + 3) & ~3);
                if (in.readableBytes() < total) {
                    return;
                }
                int opcode = in.getUnsignedByte(r) & 0x3f;
                long itt = in.getUnsignedInt(r + 16);
                out.add(new Frame(in.readRetainedSlice(total), String.format("iscsi-0x%02x", opcode), itt));
            }
        }
    }
}
