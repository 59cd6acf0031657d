package io.tapdisk4j.nbd.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;

/** Makes the handler that turns a connection into TLS after STARTTLS (server side). */
public interface NbdServerTls {

    NbdTlsMode mode();

    /** A new TLS handler for {@code channel}; it goes first in the pipeline. */
    ChannelHandler newHandler(Channel channel) throws Exception;
}
