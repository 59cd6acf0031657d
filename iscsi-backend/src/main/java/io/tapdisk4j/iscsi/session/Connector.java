package io.tapdisk4j.iscsi.session;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.iscsi.text.Chap;
import io.tapdisk4j.iscsi.login.LoginConfig;
import io.tapdisk4j.iscsi.text.LoginException;
import io.tapdisk4j.iscsi.login.LoginHandler;
import io.tapdisk4j.iscsi.login.LoginNegotiator;
import io.tapdisk4j.iscsi.pdu.DigestSettings;
import io.tapdisk4j.iscsi.pdu.PduDecoder;
import io.tapdisk4j.iscsi.pdu.PduEncoder;
import io.tapdisk4j.iscsi.pdu.PduReadAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.ConnectException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

/** Opens a TCP connection to a portal and logs in on it; the channel lives on the given event loop. */
public final class Connector {

    private static final Logger LOG = LoggerFactory.getLogger(Connector.class);

    static final String DECODER = "pdu-decoder";
    static final String ENCODER = "pdu-encoder";
    static final String LOGIN = "login";

    private Connector() {
    }

    /**
     * Connects and logs in. A target that chose a CHAP algorithm stronger than MD5 and then refused our
     * response (tgt computes SHA-1 for CHAP_A=7) gets a second login offering MD5 alone, when the
     * configuration allows MD5; the {@link Connection} says which configuration succeeded.
     */
    public static CompletableFuture<Connection> connect(EventLoop loop, String host, int port, LoginConfig config,
                                                        byte[] isid, int cmdSN, Duration timeout) {
        return attempt(loop, host, port, config, isid, cmdSN, timeout).exceptionallyCompose(err -> {
            Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
            if (cause instanceof LoginException le && md5Fallback(config, le)) {
                LOG.info("iSCSI target {}:{} refused CHAP with {} ({}); logging in again offering MD5 only", host, port,
                        le.refusedChapAlgorithm().urlName(), le.getMessage());
                return attempt(loop, host, port, config.withChapAlgorithms(List.of(Chap.Algorithm.MD5)), isid, cmdSN,
                        timeout);
            }
            return CompletableFuture.failedFuture(cause);
        });
    }

    static boolean md5Fallback(LoginConfig config, LoginException e) {
        Chap.Algorithm refused = e.refusedChapAlgorithm();
        return refused != null && refused != Chap.Algorithm.MD5 && config.chapAlgorithms().contains(Chap.Algorithm.MD5);
    }

    private static CompletableFuture<Connection> attempt(EventLoop loop, String host, int port, LoginConfig config,
                                                         byte[] isid, int cmdSN, Duration timeout) {
        DigestSettings digests = new DigestSettings();
        digests.maxRecvDataSegmentLength(Math.max(8192, config.maxRecvDataSegmentLength()));
        LoginNegotiator negotiator = new LoginNegotiator(config, isid, 0, 1, cmdSN, Buffers.allocator());
        LoginHandler login = new LoginHandler(negotiator, digests);
        Bootstrap b = new Bootstrap().group(loop).channel(EventLoops.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.ALLOCATOR, Buffers.allocator())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()))
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        PduDecoder decoder = PduDecoder.forInitiator(digests);
                        // Large Data-In is read from the socket straight into the read's own buffer.
                        ch.config().setRecvByteBufAllocator(new PduReadAllocator(decoder));
                        ch.pipeline().addLast(DECODER, decoder);
                        ch.pipeline().addLast(ENCODER, new PduEncoder(digests));
                        ch.pipeline().addLast(LOGIN, login);
                    }
                });
        CompletableFuture<Connection> result = new CompletableFuture<>();
        ChannelFuture cf = b.connect(host, port);
        cf.addListener(f -> {
            if (!f.isSuccess()) {
                Throwable c = f.cause();
                ConnectException e = new ConnectException("cannot connect to iSCSI portal " + host + ":" + port
                        + ": " + (c == null ? "cancelled" : c.getMessage()));
                if (c != null) {
                    e.initCause(c);
                }
                result.completeExceptionally(e);
            }
        });
        var timer = loop.schedule(() -> {
            if (!result.isDone()) {
                result.completeExceptionally(new LoginException("login to " + host + ":" + port + " timed out after "
                        + timeout.toMillis() + " ms"));
                cf.channel().close();
            }
        }, timeout.toMillis(), TimeUnit.MILLISECONDS);
        login.result().whenComplete((params, err) -> {
            timer.cancel(false);
            if (err != null) {
                result.completeExceptionally(err);
                cf.channel().close();
            } else if (!result.complete(new Connection(cf.channel(), digests, params, config))) {
                cf.channel().close();
            }
        });
        return result;
    }
}
