package io.tapdisk4j.nbd.client;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.util.concurrent.Future;

/** Makes the client's TLS handler after STARTTLS was acknowledged. */
public interface NbdClientTls {

    /** A new TLS handler for {@code channel}; it goes first in the pipeline. */
    ChannelHandler newHandler(Channel channel) throws Exception;

    /** Completes when the handler's handshake is done (fails when it fails). */
    Future<?> handshakeFuture(ChannelHandler handler);
}
