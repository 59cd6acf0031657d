package io.tapdisk4j.nbd.client;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.nbd.NbdClientFlags;
import io.tapdisk4j.nbd.NbdExportNameReply;
import io.tapdisk4j.nbd.NbdOptionReply;
import io.tapdisk4j.nbd.NbdOptionRequest;
import io.tapdisk4j.nbd.NbdProtocol;
import io.tapdisk4j.nbd.NbdServerGreeting;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static io.tapdisk4j.nbd.NbdProtocol.*;

/**
 * The client's side of the handshake: client flags, STARTTLS when configured, STRUCTURED_REPLY,
 * SET_META_CONTEXT base:allocation and {@code qemu:dirty-bitmap:NAME} for each bitmap asked for (the server
 * selects those it has and names each with an id), then GO with a BLOCK_SIZE request (falling back to EXPORT_NAME for
 * servers without GO). Completes {@link #result()} with the agreed {@link NbdSession}; the owner then
 * replaces this handler with the transmission handler.
 */
public final class NbdClientNegotiation extends ChannelInboundHandlerAdapter {

    private enum Step { GREETING, STARTTLS, STRUCTURED, META, GO, EXPORT_NAME, DONE }

    private final String exportName;
    private final NbdClientTls tls;
    private final CompletableFuture<NbdSession> result = new CompletableFuture<>();
    private Step step = Step.GREETING;
    private boolean noZeroes;
    private boolean structured;
    private final List<String> bitmaps;
    private final Map<String, Integer> contexts = new HashMap<>();
    private long size = -1;
    private int flags;
    private int minBlock = 1;
    private int prefBlock = 4096;
    private int maxPayload = DEFAULT_MAX_PAYLOAD;

    public NbdClientNegotiation(String exportName, NbdClientTls tls) {
        this(exportName, tls, List.of());
    }

    /** {@code bitmaps}: dirty bitmap names to ask for besides base:allocation. */
    public NbdClientNegotiation(String exportName, NbdClientTls tls, List<String> bitmaps) {
        this.exportName = exportName;
        this.tls = tls;
        this.bitmaps = List.copyOf(bitmaps);
    }

    public CompletableFuture<NbdSession> result() {
        return result;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            switch (msg) {
                case NbdServerGreeting g -> greeting(ctx, g);
                case NbdOptionReply r -> reply(ctx, r);
                case NbdExportNameReply r -> {
                    size = r.size();
                    flags = r.transmissionFlags();
                    done(ctx);
                }
                default -> fail(ctx, "unexpected " + msg + " during negotiation");
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        fail(ctx, "the server closed the connection during negotiation");
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        fail(ctx, "negotiation failed: " + cause);
    }

    private void greeting(ChannelHandlerContext ctx, NbdServerGreeting g) {
        if ((g.handshakeFlags() & FLAG_FIXED_NEWSTYLE) == 0) {
            fail(ctx, "the server does not speak fixed newstyle NBD");
            return;
        }
        noZeroes = (g.handshakeFlags() & FLAG_NO_ZEROES) != 0;
        ctx.write(new NbdClientFlags(FLAG_FIXED_NEWSTYLE | (noZeroes ? FLAG_NO_ZEROES : 0)));
        if (tls != null) {
            send(ctx, Step.STARTTLS, OPT_STARTTLS, new byte[0]);
        } else {
            requestStructured(ctx);
        }
    }

    private void requestStructured(ChannelHandlerContext ctx) {
        send(ctx, Step.STRUCTURED, OPT_STRUCTURED_REPLY, new byte[0]);
    }

    private void send(ChannelHandlerContext ctx, Step next, int option, byte[] data) {
        step = next;
        ctx.writeAndFlush(NbdOptionRequest.of(option, data));
    }

    private void reply(ChannelHandlerContext ctx, NbdOptionReply r) {
        switch (step) {
            case STARTTLS -> {
                if (r.type() != REP_ACK) {
                    fail(ctx, "the server refused STARTTLS: " + describe(r));
                    return;
                }
                ChannelHandler h;
                try {
                    h = tls.newHandler(ctx.channel());
                } catch (Exception e) {
                    fail(ctx, "cannot set up TLS: " + e);
                    return;
                }
                ctx.pipeline().addFirst("tls", h);
                tls.handshakeFuture(h).addListener(f -> {
                    if (f.isSuccess()) {
                        requestStructured(ctx);
                    } else {
                        fail(ctx, "TLS handshake failed: " + f.cause());
                    }
                });
            }
            case STRUCTURED -> {
                structured = r.type() == REP_ACK;
                if (structured) {
                    send(ctx, Step.META, OPT_SET_META_CONTEXT, setMetaContext());
                } else {
                    go(ctx);
                }
            }
            case META -> {
                if (r.type() == REP_META_CONTEXT) {
                    if (!metaContext(r.data())) {
                        fail(ctx, "malformed meta context reply (" + r.data().length + " bytes)");
                    }
                } else if (r.type() == REP_ACK || r.isError()) {
                    go(ctx);
                }
            }
            case GO -> {
                if (r.type() == REP_INFO) {
                    info(r.data());
                } else if (r.type() == REP_ACK) {
                    if (size < 0) {
                        fail(ctx, "the server did not send the export's size");
                    } else {
                        done(ctx);
                    }
                } else if (r.type() == REP_ERR_UNSUP) {
                    step = Step.EXPORT_NAME;
                    ctx.pipeline().get(io.tapdisk4j.nbd.NbdClientDecoder.class).expectExportNameReply(!noZeroes);
                    ctx.writeAndFlush(NbdOptionRequest.of(OPT_EXPORT_NAME, exportName.getBytes(StandardCharsets.UTF_8)));
                } else {
                    fail(ctx, "the server refused export '" + exportName + "': " + describe(r));
                }
            }
            default -> fail(ctx, "unexpected option reply " + r);
        }
    }

    private byte[] setMetaContext() {
        List<String> queries = new ArrayList<>();
        queries.add(BASE_ALLOCATION);
        for (String b : bitmaps) {
            queries.add(DIRTY_BITMAP + b);
        }
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        ByteBuf b = Unpooled.buffer().writeInt(name.length).writeBytes(name).writeInt(queries.size());
        for (String q : queries) {
            byte[] n = q.getBytes(StandardCharsets.UTF_8);
            b.writeInt(n.length).writeBytes(n);
        }
        return bytes(b);
    }

    /**
     * One NBD_REP_META_CONTEXT: u32 id (any value, qemu starts at 0), then the name. Only names asked for
     * are kept; a reused id or a context named twice is malformed (ids must tell the contexts' replies apart).
     */
    private boolean metaContext(byte[] data) {
        if (data.length < 5 || data.length > 4 + MAX_STRING) {
            return false;
        }
        ByteBuf b = Unpooled.wrappedBuffer(data);
        int id = b.readInt();
        String name = b.toString(StandardCharsets.UTF_8);
        if (contexts.containsValue(id) || contexts.containsKey(name)) {
            return false;
        }
        if (name.equals(BASE_ALLOCATION) || (name.startsWith(DIRTY_BITMAP)
                && bitmaps.contains(name.substring(DIRTY_BITMAP.length())))) {
            contexts.put(name, id);
        }
        return true;
    }

    private void go(ChannelHandlerContext ctx) {
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        ByteBuf b = Unpooled.buffer().writeInt(name.length).writeBytes(name).writeShort(1).writeShort(INFO_BLOCK_SIZE);
        send(ctx, Step.GO, OPT_GO, bytes(b));
    }

    private void info(byte[] data) {
        ByteBuf b = Unpooled.wrappedBuffer(data);
        if (b.readableBytes() < 2) {
            return;
        }
        int type = b.readUnsignedShort();
        if (type == INFO_EXPORT && b.readableBytes() >= 10) {
            size = b.readLong();
            flags = b.readUnsignedShort();
        } else if (type == INFO_BLOCK_SIZE && b.readableBytes() >= 12) {
            minBlock = b.readInt();
            prefBlock = b.readInt();
            maxPayload = b.readInt();
        }
    }

    private void done(ChannelHandlerContext ctx) {
        step = Step.DONE;
        int max = maxPayload <= 0 ? DEFAULT_MAX_PAYLOAD : Math.min(maxPayload, DEFAULT_MAX_PAYLOAD);
        result.complete(new NbdSession(size, flags, structured, structured ? contexts : Map.of(),
                Math.max(1, minBlock), prefBlock, max));
    }

    private void fail(ChannelHandlerContext ctx, String why) {
        if (!result.isDone()) {
            result.completeExceptionally(new BlockDeviceException(BlockError.EIO, "NBD " + ctx.channel().remoteAddress() + ": " + why));
        }
        ctx.close();
    }

    private static String describe(NbdOptionReply r) {
        String text = new String(r.data(), StandardCharsets.UTF_8);
        return "reply type 0x" + Integer.toHexString(r.type()) + (text.isBlank() ? "" : " (" + text + ")");
    }

    private static byte[] bytes(ByteBuf b) {
        byte[] a = new byte[b.readableBytes()];
        b.readBytes(a);
        return a;
    }
}
