package io.tapdisk4j.iscsi.login;

import io.tapdisk4j.iscsi.text.LoginException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.tapdisk4j.iscsi.pdu.DigestSettings;
import io.tapdisk4j.iscsi.pdu.Pdu;

import java.nio.channels.ClosedChannelException;
import java.util.concurrent.CompletableFuture;

/**
 * Drives a {@link LoginNegotiator} over a fresh connection: sends its requests, feeds it the responses,
 * switches the codec's digests on when the login completes and then leaves the pipeline. The future
 * fails (and the connection closes) on refusal, protocol errors or a lost connection.
 */
public final class LoginHandler extends SimpleChannelInboundHandler<Pdu> {

    private final LoginNegotiator negotiator;
    private final DigestSettings digests;
    private final CompletableFuture<SessionParameters> result = new CompletableFuture<>();

    public LoginHandler(LoginNegotiator negotiator, DigestSettings digests) {
        this.negotiator = negotiator;
        this.digests = digests;
    }

    public CompletableFuture<SessionParameters> result() {
        return result;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        ctx.writeAndFlush(negotiator.firstRequest());
        ctx.fireChannelActive();
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Pdu response) {
        try {
            switch (negotiator.onResponse(response)) {
                case LoginNegotiator.Next next -> ctx.writeAndFlush(next.request());
                case LoginNegotiator.Done done -> {
                    SessionParameters p = done.parameters();
                    // The next PDU in either direction carries the negotiated digests (RFC 7143 13.1).
                    digests.headerDigest(p.headerDigest());
                    digests.dataDigest(p.dataDigest());
                    ctx.pipeline().remove(this);
                    result.complete(p);
                }
            }
        } catch (LoginException e) {
            fail(ctx, e);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        fail(ctx, new LoginException("login failed: " + cause.getMessage()));
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!result.isDone()) {
            LoginException e = new LoginException("connection closed during login");
            e.initCause(new ClosedChannelException());
            result.completeExceptionally(e);
        }
        ctx.fireChannelInactive();
    }

    private void fail(ChannelHandlerContext ctx, LoginException e) {
        result.completeExceptionally(e);
        ctx.close();
    }
}
