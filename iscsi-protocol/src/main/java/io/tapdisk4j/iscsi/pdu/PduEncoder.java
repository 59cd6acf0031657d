package io.tapdisk4j.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;

import java.util.List;

/**
 * Writes a {@link Pdu} as header (plus header digest), the data segment itself (no copy: the dom0 buffer
 * goes to the socket as it is) and a trailer of padding and data digest.
 */
@ChannelHandler.Sharable
public final class PduEncoder extends MessageToMessageEncoder<Pdu> {

    private final DigestSettings settings;

    public PduEncoder(DigestSettings settings) {
        super(Pdu.class);
        this.settings = settings;
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Pdu pdu, List<Object> out) {
        ByteBuf data = pdu.data();
        int dataLength = data.readableBytes();
        if (dataLength > 0xffffff) {
            throw new IllegalArgumentException("data segment of " + dataLength + " bytes does not fit 24 bits");
        }
        boolean hd = settings.headerDigest();
        boolean dd = settings.dataDigest() && dataLength > 0;
        ByteBuf header = ctx.alloc().directBuffer(Pdu.BHS_LENGTH + 4);
        byte[] bhs = pdu.bhs();
        bhs[4] = 0; // no AHS is ever sent
        bhs[5] = (byte) (dataLength >>> 16);
        bhs[6] = (byte) (dataLength >>> 8);
        bhs[7] = (byte) dataLength;
        header.writeBytes(bhs);
        if (hd) {
            header.writeIntLE(Digests.crc32c(bhs, 0, Pdu.BHS_LENGTH));
        }
        out.add(header);
        if (dataLength == 0) {
            return;
        }
        out.add(data.retainedDuplicate());
        int pad = Digests.padding(dataLength);
        if (pad > 0 || dd) {
            ByteBuf trailer = ctx.alloc().directBuffer(8);
            trailer.writeZero(pad);
            if (dd) {
                trailer.writeIntLE(Digests.crc32c(data, data.readerIndex(), dataLength, pad));
            }
            out.add(trailer);
        }
    }
}
