package io.tapdisk4j.nbd.client;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.unix.DomainSocketAddress;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.nbd.NbdClientDecoder;
import io.tapdisk4j.nbd.NbdClientEncoder;
import io.tapdisk4j.nbd.NbdProtocol;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Opens one negotiated connection to an NBD export. */
final class NbdConnector {

    private final NbdClientConfig config;
    private final EventLoopGroup group;

    NbdConnector(NbdClientConfig config, EventLoopGroup group) {
        this.config = config;
        this.group = group;
    }

    CompletableFuture<NbdClientConnection> connect(NbdClientConnection.Owner owner) {
        CompletableFuture<NbdClientConnection> result = new CompletableFuture<>();
        boolean unix = config.address() instanceof DomainSocketAddress;
        NbdClientNegotiation negotiation = new NbdClientNegotiation(config.exportName(), config.tls(), config.dirtyBitmaps());
        Bootstrap b = new Bootstrap().group(group)
                .channel(unix ? EventLoops.domainSocketChannel() : EventLoops.socketChannel())
                .option(ChannelOption.ALLOCATOR, Buffers.allocator())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(10_000, config.requestTimeout().toMillis()))
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (!unix) {
                            ch.config().setOption(ChannelOption.TCP_NODELAY, true);
                        }
                        NbdClientDecoder decoder = new NbdClientDecoder(NbdProtocol.DEFAULT_MAX_PAYLOAD);
                        ch.config().setRecvByteBufAllocator(new io.tapdisk4j.nbd.DirectReads(decoder::directReadBuffer));
                        ch.pipeline().addLast("nbd-decoder", decoder);
                        ch.pipeline().addLast("nbd-encoder", NbdClientEncoder.INSTANCE);
                        ch.pipeline().addLast("nbd-negotiation", negotiation);
                    }
                });
        b.connect(config.address()).addListener(f -> {
            if (!f.isSuccess()) {
                result.completeExceptionally(new BlockDeviceException(BlockError.EIO,
                        "cannot connect to NBD server " + config.address() + ": " + f.cause().getMessage(), f.cause()));
                return;
            }
            Channel ch = ((io.netty.channel.ChannelFuture) f).channel();
            var timeout = ch.eventLoop().schedule(() -> {
                if (!negotiation.result().isDone()) {
                    negotiation.result().completeExceptionally(new BlockDeviceException(BlockError.ETIMEDOUT,
                            "NBD server " + config.address() + " did not finish the handshake"));
                    ch.close();
                }
            }, Math.min(30_000, config.requestTimeout().toMillis()), TimeUnit.MILLISECONDS);
            negotiation.result().whenComplete((session, err) -> {
                timeout.cancel(false);
                if (err != null) {
                    ch.close();
                    result.completeExceptionally(err);
                    return;
                }
                ch.eventLoop().execute(() -> {
                    NbdClientConnection c = new NbdClientConnection(ch, session, owner);
                    ch.pipeline().replace(negotiation, "nbd-connection", c);
                    result.complete(c);
                });
            });
        });
        return result;
    }
}
