package io.tapdisk4j.nbd.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.tapdisk4j.nbd.NbdClientFlags;
import io.tapdisk4j.nbd.NbdExportNameReply;
import io.tapdisk4j.nbd.NbdOptionReply;
import io.tapdisk4j.nbd.NbdOptionRequest;
import io.tapdisk4j.nbd.NbdProtocol;
import io.tapdisk4j.nbd.NbdServerDecoder;
import io.tapdisk4j.nbd.NbdServerGreeting;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.tapdisk4j.nbd.NbdProtocol.*;

/**
 * The server's side of the fixed newstyle handshake: greeting, client flags, then options until GO or
 * EXPORT_NAME selects an export, at which point this handler replaces itself with a
 * {@link NbdTransmissionHandler}. Negotiated state (structured replies, the meta context) is forgotten at
 * STARTTLS, as the spec requires. A client that has not reached transmission within the handshake timeout
 * is disconnected.
 */
public final class NbdOptionNegotiation extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(NbdOptionNegotiation.class);

    private final NbdExports exports;
    private final NbdServerLimits limits;
    private final NbdServerTls tls;
    private boolean noZeroes;
    private boolean gotFlags;
    private boolean tlsActive;
    private boolean structuredReplies;
    /** The export SET_META_CONTEXT selected contexts for, or null; context ids are their index + 1. */
    private String contextExport;
    private List<String> contexts = List.of();
    private ScheduledFuture<?> timeout;

    public NbdOptionNegotiation(NbdExports exports, NbdServerLimits limits, NbdServerTls tls) {
        this.exports = exports;
        this.limits = limits;
        this.tls = tls;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (timeout != null) {
            ctx.fireChannelActive();
            return;
        }
        timeout = ctx.executor().schedule(() -> {
            log.info("{}: handshake not finished within {}, closing", ctx.channel().remoteAddress(), limits.handshakeTimeout());
            ctx.close();
        }, limits.handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS);
        ctx.writeAndFlush(new NbdServerGreeting(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES));
        ctx.fireChannelActive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.info("{}: closing during negotiation: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancelTimeout();
        ctx.fireChannelInactive();
    }

    private void cancelTimeout() {
        if (timeout != null) {
            timeout.cancel(false);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            switch (msg) {
                case NbdClientFlags f -> clientFlags(ctx, f);
                case NbdOptionRequest o -> option(ctx, o);
                default -> {
                    log.warn("{}: unexpected {} during negotiation, closing", ctx.channel().remoteAddress(), msg);
                    ctx.close();
                }
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void clientFlags(ChannelHandlerContext ctx, NbdClientFlags f) {
        if ((f.flags() & ~(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES)) != 0) {
            log.info("{}: unknown client flags 0x{}, closing", ctx.channel().remoteAddress(), Integer.toHexString(f.flags()));
            ctx.close();
            return;
        }
        gotFlags = true;
        noZeroes = f.noZeroes();
    }

    private void option(ChannelHandlerContext ctx, NbdOptionRequest o) {
        int opt = o.option();
        if (!gotFlags) {
            ctx.close();
            return;
        }
        if (o.tooBig()) {
            if (opt == OPT_EXPORT_NAME) {
                ctx.close();
                return;
            }
            reply(ctx, NbdOptionReply.error(opt, REP_ERR_TOO_BIG, "option data of " + o.declaredLength() + " bytes is too large"));
            return;
        }
        if (tls != null && tls.mode() == NbdTlsMode.REQUIRE && !tlsActive
                && opt != OPT_STARTTLS && opt != OPT_ABORT) {
            if (opt == OPT_EXPORT_NAME) {
                ctx.close(); // EXPORT_NAME cannot carry an error
            } else {
                reply(ctx, NbdOptionReply.error(opt, REP_ERR_TLS_REQD, "TLS is required: use STARTTLS first"));
            }
            return;
        }
        ByteBuf data = Unpooled.wrappedBuffer(o.data());
        switch (opt) {
            case OPT_EXPORT_NAME -> exportName(ctx, data);
            case OPT_ABORT -> {
                cancelTimeout();
                ctx.writeAndFlush(NbdOptionReply.ack(opt)).addListener(ChannelFutureListener.CLOSE);
            }
            case OPT_LIST -> list(ctx, data);
            case OPT_STARTTLS -> startTls(ctx, data);
            case OPT_INFO, OPT_GO -> infoOrGo(ctx, opt, data);
            case OPT_STRUCTURED_REPLY -> {
                if (data.isReadable()) {
                    reply(ctx, NbdOptionReply.error(opt, REP_ERR_INVALID, "STRUCTURED_REPLY takes no data"));
                } else {
                    structuredReplies = true;
                    reply(ctx, NbdOptionReply.ack(opt));
                }
            }
            case OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT -> metaContext(ctx, opt, data);
            default -> reply(ctx, NbdOptionReply.error(opt, REP_ERR_UNSUP, NbdProtocol.optionName(opt) + " is not supported"));
        }
    }

    private static void reply(ChannelHandlerContext ctx, NbdOptionReply r) {
        ctx.writeAndFlush(r);
    }

    private void exportName(ChannelHandlerContext ctx, ByteBuf data) {
        String name = data.toString(StandardCharsets.UTF_8);
        NbdExport export = data.readableBytes() > MAX_STRING ? null : exports.find(name);
        if (export == null) {
            log.info("{}: EXPORT_NAME '{}' unknown, closing", ctx.channel().remoteAddress(), printable(name));
            ctx.close(); // the EXPORT_NAME reply cannot carry an error
            return;
        }
        ctx.write(new NbdExportNameReply(export.device().size(), export.transmissionFlags(), !noZeroes));
        enterTransmission(ctx, export, name);
    }

    private void list(ChannelHandlerContext ctx, ByteBuf data) {
        if (data.isReadable()) {
            reply(ctx, NbdOptionReply.error(OPT_LIST, REP_ERR_INVALID, "LIST takes no data"));
            return;
        }
        for (NbdExport e : exports.all()) {
            byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
            byte[] desc = e.description() == null ? new byte[0] : e.description().getBytes(StandardCharsets.UTF_8);
            ByteBuf b = Unpooled.buffer(4 + name.length + desc.length);
            b.writeInt(name.length).writeBytes(name).writeBytes(desc);
            ctx.write(new NbdOptionReply(OPT_LIST, REP_SERVER, bytes(b)));
        }
        reply(ctx, NbdOptionReply.ack(OPT_LIST));
    }

    private void startTls(ChannelHandlerContext ctx, ByteBuf data) {
        NbdServerDecoder decoder = ctx.pipeline().get(NbdServerDecoder.class);
        if (!startTlsAccepted(ctx, data)) {
            if (decoder != null) {
                decoder.resumeOptions();
            }
        }
    }

    private boolean startTlsAccepted(ChannelHandlerContext ctx, ByteBuf data) {
        if (tls == null || tls.mode() == NbdTlsMode.OFF) {
            reply(ctx, NbdOptionReply.error(OPT_STARTTLS, REP_ERR_POLICY, "TLS is not enabled on this server"));
            return false;
        }
        if (tlsActive) {
            reply(ctx, NbdOptionReply.error(OPT_STARTTLS, REP_ERR_INVALID, "TLS is already active"));
            return false;
        }
        if (data.isReadable()) {
            reply(ctx, NbdOptionReply.error(OPT_STARTTLS, REP_ERR_INVALID, "STARTTLS takes no data"));
            return false;
        }
        ChannelHandler handler;
        try {
            handler = tls.newHandler(ctx.channel());
        } catch (Exception e) {
            log.warn("{}: cannot set up TLS: {}", ctx.channel().remoteAddress(), e.toString());
            reply(ctx, NbdOptionReply.error(OPT_STARTTLS, REP_ERR_PLATFORM, "TLS setup failed on the server"));
            return false;
        }
        // The ACK goes out in clear text; everything after it is TLS.
        ctx.writeAndFlush(NbdOptionReply.ack(OPT_STARTTLS)).addListener(f -> {
            if (f.isSuccess()) {
                ctx.pipeline().addFirst("tls", handler);
                NbdServerDecoder decoder = ctx.pipeline().get(NbdServerDecoder.class);
                if (decoder != null) {
                    decoder.resumeOptions();
                }
            } else {
                ctx.close();
            }
        });
        tlsActive = true;
        structuredReplies = false;
        contextExport = null;
        contexts = List.of();
        return true;
    }

    private void infoOrGo(ChannelHandlerContext ctx, int opt, ByteBuf data) {
        if (data.readableBytes() < 4) {
            reply(ctx, NbdOptionReply.error(opt, REP_ERR_INVALID, "truncated request"));
            return;
        }
        long nameLength = data.readUnsignedInt();
        if (nameLength > MAX_STRING || data.readableBytes() < nameLength + 2) {
            reply(ctx, NbdOptionReply.error(opt, REP_ERR_INVALID, "bad name length"));
            return;
        }
        String name = data.readCharSequence((int) nameLength, StandardCharsets.UTF_8).toString();
        int count = data.readUnsignedShort();
        if (data.readableBytes() != 2 * count) {
            reply(ctx, NbdOptionReply.error(opt, REP_ERR_INVALID, "information request count does not match length"));
            return;
        }
        boolean wantName = false;
        boolean wantDescription = false;
        for (int i = 0; i < count; i++) {
            int type = data.readUnsignedShort();
            wantName |= type == INFO_NAME;
            wantDescription |= type == INFO_DESCRIPTION;
        }
        NbdExport export = exports.find(name);
        if (export == null) {
            reply(ctx, NbdOptionReply.error(opt, REP_ERR_UNKNOWN, "no export named '" + printable(name) + "'"));
            return;
        }
        ctx.write(new NbdOptionReply(opt, REP_INFO, bytes(Unpooled.buffer(12).writeShort(INFO_EXPORT)
                .writeLong(export.device().size()).writeShort(export.transmissionFlags()))));
        if (wantName) {
            byte[] n = export.name().getBytes(StandardCharsets.UTF_8);
            ctx.write(new NbdOptionReply(opt, REP_INFO, bytes(Unpooled.buffer(2 + n.length).writeShort(INFO_NAME).writeBytes(n))));
        }
        if (wantDescription && export.description() != null) {
            byte[] d = export.description().getBytes(StandardCharsets.UTF_8);
            ctx.write(new NbdOptionReply(opt, REP_INFO, bytes(Unpooled.buffer(2 + d.length).writeShort(INFO_DESCRIPTION).writeBytes(d))));
        }
        ctx.write(new NbdOptionReply(opt, REP_INFO, bytes(Unpooled.buffer(14).writeShort(INFO_BLOCK_SIZE)
                .writeInt(1).writeInt(4096).writeInt(limits.maxPayload()))));
        if (opt == OPT_INFO) {
            reply(ctx, NbdOptionReply.ack(opt));
            return;
        }
        ctx.write(NbdOptionReply.ack(opt));
        enterTransmission(ctx, export, name);
    }

    private void metaContext(ChannelHandlerContext ctx, int opt, ByteBuf data) {
        if (opt == OPT_SET_META_CONTEXT && !structuredReplies) {
            reply(ctx, NbdOptionReply.error(opt, REP_ERR_INVALID, "SET_META_CONTEXT needs STRUCTURED_REPLY first"));
            return;
        }
        List<String> queries = new ArrayList<>();
        String name;
        try {
            long nameLength = data.readUnsignedInt();
            if (nameLength > MAX_STRING || data.readableBytes() < nameLength + 4) {
                throw new IndexOutOfBoundsException();
            }
            name = data.readCharSequence((int) nameLength, StandardCharsets.UTF_8).toString();
            long n = data.readUnsignedInt();
            for (long i = 0; i < n; i++) {
                long len = data.readUnsignedInt();
                if (len > MAX_STRING || len > data.readableBytes()) {
                    throw new IndexOutOfBoundsException();
                }
                queries.add(data.readCharSequence((int) len, StandardCharsets.UTF_8).toString());
            }
            if (data.isReadable()) {
                throw new IndexOutOfBoundsException();
            }
        } catch (IndexOutOfBoundsException e) {
            reply(ctx, NbdOptionReply.error(opt, REP_ERR_INVALID, "malformed meta context request"));
            return;
        }
        NbdExport export = exports.find(name);
        if (export == null) {
            reply(ctx, NbdOptionReply.error(opt, REP_ERR_UNKNOWN, "no export named '" + printable(name) + "'"));
            return;
        }
        List<String> selected = NbdMetaContexts.select(NbdMetaContexts.offered(export), queries, opt == OPT_LIST_META_CONTEXT);
        for (int i = 0; i < selected.size(); i++) {
            byte[] n = selected.get(i).getBytes(StandardCharsets.UTF_8);
            ctx.write(new NbdOptionReply(opt, REP_META_CONTEXT,
                    bytes(Unpooled.buffer(4 + n.length).writeInt(opt == OPT_SET_META_CONTEXT ? i + 1 : 0).writeBytes(n))));
        }
        if (opt == OPT_SET_META_CONTEXT) {
            contextExport = selected.isEmpty() ? null : name;
            contexts = List.copyOf(selected);
        }
        reply(ctx, NbdOptionReply.ack(opt));
    }

    private void enterTransmission(ChannelHandlerContext ctx, NbdExport export, String requestedName) {
        cancelTimeout();
        ctx.flush();
        List<String> selected = contextExport != null && contextExport.equals(requestedName) ? contexts : List.of();
        NbdServerDecoder decoder = ctx.pipeline().get(NbdServerDecoder.class);
        if (decoder != null) {
            decoder.enterTransmission();
        }
        log.debug("{}: transmission on export '{}' (structured replies {}, meta contexts {})",
                ctx.channel().remoteAddress(), export.name(), structuredReplies, selected);
        ctx.pipeline().replace(this, "nbd-transmission",
                new NbdTransmissionHandler(export, limits, structuredReplies, selected, !tlsActive));
    }

    /** A client-chosen name made safe for a log line (no control characters, bounded length). */
    static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && b.length() < 200; i++) {
            char c = s.charAt(i);
            b.append(Character.isISOControl(c) || Character.isSurrogate(c) ? '?' : c);
        }
        return b.toString();
    }

    private static byte[] bytes(ByteBuf b) {
        byte[] a = new byte[b.readableBytes()];
        b.readBytes(a);
        return a;
    }
}
