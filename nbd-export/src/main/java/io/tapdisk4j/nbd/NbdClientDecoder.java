package io.tapdisk4j.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;

import java.util.List;
import java.util.function.LongUnaryOperator;

/**
 * Server to client: the greeting, option replies, the EXPORT_NAME answer, then simple replies and
 * structured chunks. A simple reply carries no length, so the decoder asks {@code readLength} how many
 * data bytes follow a successful reply to a cookie (the READ's length, 0 for anything else). Data arrives
 * as retained slices of the received bytes. Anything malformed or oversized fails with
 * {@link CorruptedFrameException}: a client cannot resynchronise, it reconnects.
 */
public final class NbdClientDecoder extends ByteToMessageDecoder {

    public enum Phase { GREETING, OPTIONS, EXPORT_NAME, TRANSMISSION }

    private static final int MAX_OPTION_REPLY = 1 << 20;

    private final int maxChunk;
    private Phase phase = Phase.GREETING;
    private boolean zeroes = true;
    private LongUnaryOperator readLength = cookie -> 0;
    private boolean corrupt;

    public NbdClientDecoder(int maxPayload) {
        this.maxChunk = maxPayload + 4096;
    }

    public void expectExportNameReply(boolean withZeroes) {
        phase = Phase.EXPORT_NAME;
        zeroes = withZeroes;
    }

    public void enterTransmission(LongUnaryOperator readLength) {
        this.readLength = readLength;
        phase = Phase.TRANSMISSION;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (corrupt) {
            in.skipBytes(in.readableBytes());
            return;
        }
        switch (phase) {
            case GREETING -> {
                if (in.readableBytes() >= 18) {
                    long magic = in.readLong();
                    long opt = in.readLong();
                    if (magic != NbdProtocol.NBDMAGIC || opt != NbdProtocol.IHAVEOPT) {
                        throw corrupt(in, "not a fixed newstyle NBD server (magic 0x" + Long.toHexString(magic)
                                + ", 0x" + Long.toHexString(opt) + ")");
                    }
                    out.add(new NbdServerGreeting(in.readUnsignedShort()));
                    phase = Phase.OPTIONS;
                }
            }
            case OPTIONS -> {
                if (in.readableBytes() < 20) {
                    return;
                }
                int s = in.readerIndex();
                if (in.getLong(s) != NbdProtocol.OPTION_REPLY_MAGIC) {
                    throw corrupt(in, "bad option reply magic");
                }
                long len = in.getUnsignedInt(s + 16);
                if (len > MAX_OPTION_REPLY) {
                    throw corrupt(in, "option reply of " + len + " bytes");
                }
                if (in.readableBytes() < 20 + len) {
                    return;
                }
                in.skipBytes(8);
                int option = in.readInt();
                int type = in.readInt();
                in.skipBytes(4);
                byte[] data = new byte[(int) len];
                in.readBytes(data);
                if (option == NbdProtocol.OPT_STARTTLS && type == NbdProtocol.REP_ACK && in.isReadable()) {
                    // plain text behind the STARTTLS ACK would be taken as TLS-protected: refuse it
                    throw corrupt(in, "server sent data after acknowledging STARTTLS");
                }
                out.add(new NbdOptionReply(option, type, data));
            }
            case EXPORT_NAME -> {
                int need = zeroes ? 134 : 10;
                if (in.readableBytes() >= need) {
                    long size = in.readLong();
                    int flags = in.readUnsignedShort();
                    in.skipBytes(need - 10);
                    out.add(new NbdExportNameReply(size, flags, zeroes));
                    phase = Phase.TRANSMISSION;
                }
            }
            case TRANSMISSION -> decodeReply(in, out);
        }
    }

    private void decodeReply(ByteBuf in, List<Object> out) {
        if (in.readableBytes() < 4) {
            return;
        }
        int s = in.readerIndex();
        int magic = in.getInt(s);
        if (magic == NbdProtocol.SIMPLE_REPLY_MAGIC) {
            if (in.readableBytes() < 16) {
                return;
            }
            int error = in.getInt(s + 4);
            long cookie = in.getLong(s + 8);
            long len = error == 0 ? readLength.applyAsLong(cookie) : 0;
            if (len < 0) {
                throw corrupt(in, "reply to unknown cookie " + cookie);
            }
            if (in.readableBytes() < 16 + len) {
                return;
            }
            in.skipBytes(16);
            out.add(new NbdSimpleReply(cookie, error, len > 0 ? in.readRetainedSlice((int) len) : null));
        } else if (magic == NbdProtocol.STRUCTURED_REPLY_MAGIC) {
            if (in.readableBytes() < 20) {
                return;
            }
            int flags = in.getUnsignedShort(s + 4);
            int type = in.getUnsignedShort(s + 6);
            long cookie = in.getLong(s + 8);
            long len = in.getUnsignedInt(s + 16);
            if (len > maxChunk) {
                throw corrupt(in, "structured reply chunk of " + len + " bytes");
            }
            if (in.readableBytes() < 20 + len) {
                return;
            }
            in.skipBytes(20);
            ByteBuf head;
            ByteBuf data = null;
            if (type == NbdProtocol.REPLY_TYPE_OFFSET_DATA) {
                if (len < 9) {
                    in.skipBytes((int) len);
                    throw corrupt(in, "OFFSET_DATA chunk of " + len + " bytes");
                }
                head = in.readRetainedSlice(8);
                data = in.readRetainedSlice((int) len - 8);
            } else {
                head = in.readRetainedSlice((int) len);
            }
            out.add(new NbdChunk(cookie, flags, type, head, data));
        } else {
            throw corrupt(in, "bad reply magic 0x" + Integer.toHexString(magic));
        }
    }

    private CorruptedFrameException corrupt(ByteBuf in, String why) {
        corrupt = true;
        in.skipBytes(in.readableBytes());
        return new CorruptedFrameException(why);
    }
}
