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
 *
 * <p>READ data of {@value #OWN_BUFFER} bytes or more is not cumulated: once its header is read, the data
 * gets a buffer of its own, which the bytes already received are copied into and which, with
 * {@link #directReadBuffer()} (see {@link DirectReads}), the socket then reads the rest into. Large
 * READ replies so cost one kernel copy and no copy in user space, as they do in a C client that receives
 * into its destination, instead of being copied, and copied again as the cumulation grows, behind a read
 * buffer.
 */
public final class NbdClientDecoder extends ByteToMessageDecoder {

    public enum Phase { GREETING, OPTIONS, EXPORT_NAME, TRANSMISSION }

    private static final int MAX_OPTION_REPLY = 1 << 20;

    private final int maxChunk;
    private Phase phase = Phase.GREETING;
    private boolean zeroes = true;
    private LongUnaryOperator readLength = cookie -> 0;
    private boolean corrupt;
    private ChannelHandlerContext ctx;

    /** READ data from this size up is received into a buffer of its own. */
    public static final int OWN_BUFFER = 64 * 1024;

    /** The data of the reply being received into its own buffer. */
    private final OwnPayload payload = new OwnPayload();
    private long payloadCookie;
    private int payloadFlags;
    /** The 8-byte offset head of an OFFSET_DATA chunk; null for a simple reply. */
    private ByteBuf payloadHead;

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
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    /**
     * Where the socket's next read should go: the missing part of the READ data being received (a slice of
     * its buffer, which the caller passes to the channel's read and so on to {@link #channelRead}), or null
     * for an ordinary read buffer: when no large data is under way, when little of it is missing, or when
     * something before this decoder (TLS) transforms the bytes.
     */
    public ByteBuf directReadBuffer() {
        if (corrupt || ctx == null || ctx.pipeline().first() != this || internalBuffer().isReadable()) {
            return null;
        }
        return payload.readTarget();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        switch (payload.received(msg)) {
            case NOT_MINE -> super.channelRead(ctx, msg);
            case COMPLETE -> ctx.fireChannelRead(completePayload());
            case MORE, ORPHAN -> {
            }
        }
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        releasePayload();
    }

    private void releasePayload() {
        payload.release();
        if (payloadHead != null) {
            payloadHead.release();
            payloadHead = null;
        }
    }

    /** Starts receiving {@code length} bytes of READ data into a buffer of their own, with what {@code in} has. */
    private void startPayload(ByteBuf in, long cookie, int flags, ByteBuf head, int length) {
        payloadCookie = cookie;
        payloadFlags = flags;
        payloadHead = head;
        payload.start(ctx.alloc(), length, in);
    }

    private Object completePayload() {
        ByteBuf data = payload.take();
        ByteBuf head = payloadHead;
        payloadHead = null;
        return head == null ? new NbdSimpleReply(payloadCookie, 0, data)
                : new NbdChunk(payloadCookie, payloadFlags, NbdProtocol.REPLY_TYPE_OFFSET_DATA, head, data);
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
        if (payload.active()) {
            if (!payload.fill(in)) {
                return;
            }
            out.add(completePayload());
            return; // ByteToMessageDecoder calls again for what follows
        }
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
                if (len >= OWN_BUFFER) {
                    in.skipBytes(16);
                    startPayload(in, cookie, 0, null, (int) len);
                }
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
                if (type == NbdProtocol.REPLY_TYPE_OFFSET_DATA && len - 8 >= OWN_BUFFER && in.readableBytes() >= 28) {
                    in.skipBytes(20);
                    startPayload(in, cookie, flags, in.readRetainedSlice(8), (int) len - 8);
                }
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
