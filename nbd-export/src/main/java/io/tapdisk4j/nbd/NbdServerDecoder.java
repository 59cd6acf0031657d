package io.tapdisk4j.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;

import java.util.List;

/**
 * Client to server. Three phases: the client's 32-bit flags, then option requests (IHAVEOPT, option,
 * length, data), then, once the negotiation says so ({@link #enterTransmission()}), transmission requests.
 * A WRITE's payload becomes a retained slice of the received bytes (no copy); one of {@value #OWN_BUFFER}
 * bytes or more that has not wholly arrived with its header gets a buffer of its own instead, which the
 * bytes already received are copied into and which, with {@link #directReadBuffer()} (see
 * {@link DirectReads}), the socket reads the rest into: large writes cost one kernel copy and no copy in
 * user space, instead of being copied into the cumulation, and again as it grows.
 *
 * <p>Hostile input is bounded: option data beyond {@code maxOptionLength} and WRITE payloads beyond
 * {@code maxPayload} are discarded as they arrive (never buffered) and the message is passed on marked
 * as such, so the server can answer with an error instead of holding megabytes; a wrong magic number
 * cannot be resynchronised and fails with {@link CorruptedFrameException}.
 */
public final class NbdServerDecoder extends ByteToMessageDecoder {

    /** AWAIT_TLS: STARTTLS was received; nothing may arrive until the TLS handler is in place. */
    public enum Phase { CLIENT_FLAGS, OPTIONS, AWAIT_TLS, TRANSMISSION }

    public static final int DEFAULT_MAX_OPTION_LENGTH = 64 * 1024;

    /** WRITE payloads from this size up are received into a buffer of their own. */
    public static final int OWN_BUFFER = 64 * 1024;
    private final int maxOptionLength;
    private final int maxPayload;
    private Phase phase = Phase.CLIENT_FLAGS;
    private long discarding;
    /** After a bad magic number nothing more can be framed: the rest is dropped while the channel closes. */
    private boolean corrupt;
    private ChannelHandlerContext ctx;
    /** The WRITE being received into its own buffer, and its header. */
    private final OwnPayload payload = new OwnPayload();
    private int payloadFlags;
    private long payloadCookie;
    private long payloadOffset;

    public NbdServerDecoder(int maxOptionLength, int maxPayload) {
        this.maxOptionLength = maxOptionLength;
        this.maxPayload = maxPayload;
    }

    public NbdServerDecoder() {
        this(DEFAULT_MAX_OPTION_LENGTH, NbdProtocol.DEFAULT_MAX_PAYLOAD);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        payload.release();
    }

    /**
     * Where the socket's next read should go: the missing part of the WRITE payload being received (a slice
     * of its buffer, which the channel's read passes on to {@link #channelRead}), or null for an ordinary
     * read buffer: when no large payload is under way, little of it is missing, or something before this
     * decoder (TLS) transforms the bytes.
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

    private NbdRequest completePayload() {
        ByteBuf data = payload.take();
        return new NbdRequest(payloadFlags, NbdProtocol.CMD_WRITE, payloadCookie, payloadOffset, data.readableBytes(),
                data, false);
    }

    public Phase phase() {
        return phase;
    }

    /** Called by the negotiation after STARTTLS was refused, or once the TLS handler is in the pipeline. */
    public void resumeOptions() {
        if (phase == Phase.AWAIT_TLS) {
            phase = Phase.OPTIONS;
        }
    }

    /** Called by the negotiation once GO or EXPORT_NAME succeeded: what follows are requests. */
    public void enterTransmission() {
        phase = Phase.TRANSMISSION;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (corrupt) {
            in.skipBytes(in.readableBytes());
            return;
        }
        if (payload.active()) {
            if (!payload.fill(in)) {
                return;
            }
            out.add(completePayload());
            return; // the decode loop calls again for what follows
        }
        if (discarding > 0) {
            int n = (int) Math.min(discarding, in.readableBytes());
            in.skipBytes(n);
            discarding -= n;
            if (discarding > 0) {
                return;
            }
        }
        switch (phase) {
            case CLIENT_FLAGS -> {
                if (in.readableBytes() >= 4) {
                    out.add(new NbdClientFlags(in.readInt()));
                    phase = Phase.OPTIONS;
                }
            }
            case OPTIONS -> decodeOption(in, out);
            case AWAIT_TLS -> {
                if (in.isReadable()) {
                    corrupt(in);
                    throw new CorruptedFrameException("client sent data before the TLS handshake it asked for");
                }
            }
            case TRANSMISSION -> decodeRequest(in, out);
        }
    }

    private void corrupt(ByteBuf in) {
        corrupt = true;
        in.skipBytes(in.readableBytes());
    }

    private void decodeOption(ByteBuf in, List<Object> out) {
        if (in.readableBytes() < 16) {
            return;
        }
        int start = in.readerIndex();
        long magic = in.getLong(start);
        if (magic != NbdProtocol.IHAVEOPT) {
            corrupt(in);
            throw new CorruptedFrameException("bad option magic 0x" + Long.toHexString(magic) + " (expected IHAVEOPT)");
        }
        int option = in.getInt(start + 8);
        long length = in.getUnsignedInt(start + 12);
        if (length > maxOptionLength) {
            in.skipBytes(16);
            out.add(new NbdOptionRequest(option, null, length));
            discarding = length;
            int n = (int) Math.min(discarding, in.readableBytes());
            in.skipBytes(n);
            discarding -= n;
            return;
        }
        if (in.readableBytes() < 16 + length) {
            return;
        }
        in.skipBytes(16);
        byte[] data = new byte[(int) length];
        in.readBytes(data);
        if (option == NbdProtocol.OPT_STARTTLS) {
            // Plain text the client sent behind STARTTLS would otherwise be read as if it came through TLS
            // (the STARTTLS injection flaw, CVE-2021-3716 in nbdkit): refuse it.
            if (in.isReadable()) {
                corrupt(in);
                throw new CorruptedFrameException("client pipelined data after STARTTLS");
            }
            phase = Phase.AWAIT_TLS;
        }
        out.add(NbdOptionRequest.of(option, data));
    }

    private void decodeRequest(ByteBuf in, List<Object> out) {
        if (in.readableBytes() < NbdProtocol.REQUEST_HEADER) {
            return;
        }
        int start = in.readerIndex();
        int magic = in.getInt(start);
        if (magic != NbdProtocol.REQUEST_MAGIC) {
            corrupt(in);
            throw new CorruptedFrameException("bad request magic 0x" + Integer.toHexString(magic));
        }
        int flags = in.getUnsignedShort(start + 4);
        int type = in.getUnsignedShort(start + 6);
        long cookie = in.getLong(start + 8);
        long offset = in.getLong(start + 16);
        long length = in.getUnsignedInt(start + 24);
        if (type != NbdProtocol.CMD_WRITE) {
            in.skipBytes(NbdProtocol.REQUEST_HEADER);
            out.add(NbdRequest.of(flags, type, cookie, offset, length));
            return;
        }
        if (length > maxPayload) {
            in.skipBytes(NbdProtocol.REQUEST_HEADER);
            out.add(new NbdRequest(flags, type, cookie, offset, length, null, true));
            discarding = length;
            int n = (int) Math.min(discarding, in.readableBytes());
            in.skipBytes(n);
            discarding -= n;
            return;
        }
        if (in.readableBytes() < NbdProtocol.REQUEST_HEADER + length) {
            if (length >= OWN_BUFFER && ctx != null) {
                in.skipBytes(NbdProtocol.REQUEST_HEADER);
                payloadFlags = flags;
                payloadCookie = cookie;
                payloadOffset = offset;
                payload.start(ctx.alloc(), (int) length, in);
            }
            return;
        }
        in.skipBytes(NbdProtocol.REQUEST_HEADER);
        ByteBuf data = in.readRetainedSlice((int) length);
        out.add(new NbdRequest(flags, type, cookie, offset, length, data, false));
    }
}
