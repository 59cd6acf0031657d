package io.tapdisk4j.nbd.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.FileRegion;
import io.netty.channel.MessageSizeEstimator;

/**
 * How much a queued reply weighs against the connection's write buffer limits. Netty's default counts a
 * file region as nothing, so a client that never reads could have the server queue region after region
 * without the channel ever becoming unwritable; here a region weighs the bytes it will send, as the buffer
 * of a copied read would.
 */
final class NbdReplySizes implements MessageSizeEstimator, MessageSizeEstimator.Handle {

    static final NbdReplySizes INSTANCE = new NbdReplySizes();

    private NbdReplySizes() {
    }

    @Override
    public Handle newHandle() {
        return this;
    }

    @Override
    public int size(Object msg) {
        return switch (msg) {
            case ByteBuf b -> b.readableBytes();
            case ByteBufHolder h -> h.content().readableBytes();
            case FileRegion f -> (int) Math.min(Integer.MAX_VALUE, f.count());
            default -> 8;
        };
    }
}
