package io.tapdisk4j.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultPromise;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.concurrent.Promise;
import org.bouncycastle.tls.TlsProtocol;

import java.io.IOException;
import java.util.ArrayDeque;

/**
 * TLS through BouncyCastle's own TLS API (used for TLS-PSK, which the JDK's JSSE lacks), as a Netty
 * handler: the protocol object runs in its non-blocking mode, fed with the bytes the socket delivers and
 * drained of the bytes it wants sent. Application writes wait until the handshake is done.
 */
public final class BcTlsHandler extends ChannelDuplexHandler {

    /** Starts the handshake on a fresh non-blocking protocol (accept for a server, connect for a client). */
    public interface Starter {
        void start(TlsProtocol protocol) throws IOException;
    }

    private final TlsProtocol protocol;
    private final Starter starter;
    private final Promise<Void> handshake = new DefaultPromise<>(GlobalEventExecutor.INSTANCE);
    private final ArrayDeque<Object[]> pendingWrites = new ArrayDeque<>();
    private ChannelHandlerContext ctx;

    public BcTlsHandler(TlsProtocol protocol, Starter starter) {
        this.protocol = protocol;
        this.starter = starter;
    }

    public io.netty.util.concurrent.Future<Void> handshakeFuture() {
        return handshake;
    }

    /** Called by the TLS peer (server or client) when the handshake completed. */
    public void handshakeComplete() {
        handshake.trySuccess(null);
        if (ctx != null) {
            ctx.executor().execute(this::writePending);
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        try {
            starter.start(protocol);
            pump(ctx);
            ctx.flush();
        } catch (IOException e) {
            fail(ctx, e);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf in)) {
            ctx.fireChannelRead(msg);
            return;
        }
        try {
            byte[] b = new byte[in.readableBytes()];
            in.readBytes(b);
            protocol.offerInput(b);
        } catch (IOException e) {
            fail(ctx, e);
            return;
        } finally {
            in.release();
        }
        pump(ctx);
        ctx.flush();
        int n = protocol.getAvailableInputBytes();
        if (n > 0) {
            ByteBuf plain = ctx.alloc().directBuffer(n);
            byte[] b = new byte[n];
            protocol.readInput(b, 0, n);
            plain.writeBytes(b);
            ctx.fireChannelRead(plain);
        }
        if (protocol.isClosed()) {
            ctx.close();
        }
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!(msg instanceof ByteBuf)) {
            ctx.write(msg, promise);
            return;
        }
        if (!handshake.isSuccess() || !pendingWrites.isEmpty()) {
            pendingWrites.add(new Object[] {msg, promise});
            return;
        }
        encrypt(ctx, (ByteBuf) msg, promise);
    }

    private void encrypt(ChannelHandlerContext ctx, ByteBuf msg, ChannelPromise promise) {
        try {
            byte[] b = new byte[msg.readableBytes()];
            msg.readBytes(b);
            protocol.writeApplicationData(b, 0, b.length);
        } catch (IOException e) {
            promise.tryFailure(e);
            fail(ctx, e);
            return;
        } finally {
            msg.release();
        }
        int n = protocol.getAvailableOutputBytes();
        if (n > 0) {
            byte[] out = new byte[n];
            protocol.readOutput(out, 0, n);
            ctx.write(ctx.alloc().directBuffer(n).writeBytes(out), promise);
        } else {
            promise.trySuccess();
        }
    }

    private void writePending() {
        Object[] w;
        while ((w = pendingWrites.poll()) != null) {
            encrypt(ctx, (ByteBuf) w[0], (ChannelPromise) w[1]);
        }
        ctx.flush();
    }

    private void pump(ChannelHandlerContext ctx) {
        int n = protocol.getAvailableOutputBytes();
        if (n > 0) {
            byte[] out = new byte[n];
            protocol.readOutput(out, 0, n);
            ctx.write(ctx.alloc().directBuffer(n).writeBytes(out));
        }
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        try {
            if (!protocol.isClosed()) {
                protocol.close();
                pump(ctx);
                ctx.flush();
            }
        } catch (IOException e) {
            // closing anyway
        }
        ctx.close(promise);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        handshake.tryFailure(new IOException("connection closed during TLS"));
        Object[] w;
        while ((w = pendingWrites.poll()) != null) {
            ReferenceCountUtil.release(w[0]);
            ((ChannelPromise) w[1]).tryFailure(new IOException("connection closed"));
        }
        ctx.fireChannelInactive();
    }

    private void fail(ChannelHandlerContext ctx, Exception e) {
        handshake.tryFailure(e);
        ctx.fireExceptionCaught(e);
        ctx.close();
    }
}
