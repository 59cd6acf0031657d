package io.tapdisk4j.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.ChannelConfig;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.util.UncheckedBooleanSupplier;

import java.util.function.Supplier;

/**
 * A connection's read buffers: Netty's adaptive ones, except while its decoder receives a large payload (READ
 * data in the client, WRITE data in the server), when the socket reads straight into that payload's own
 * buffer ({@link NbdClientDecoder#directReadBuffer()}, {@link NbdServerDecoder#directReadBuffer()}).
 */
public final class DirectReads implements RecvByteBufAllocator {

    private final RecvByteBufAllocator ordinary = new AdaptiveRecvByteBufAllocator();
    private final Supplier<ByteBuf> target;

    /** {@code target}: the decoder's buffer for the next read, or null for an ordinary one. */
    public DirectReads(Supplier<ByteBuf> target) {
        this.target = target;
    }

    @Override
    public Handle newHandle() {
        return new Reads((ExtendedHandle) ordinary.newHandle());
    }

    private final class Reads implements ExtendedHandle {
        private final ExtendedHandle delegate;

        Reads(ExtendedHandle delegate) {
            this.delegate = delegate;
        }

        @Override
        public ByteBuf allocate(ByteBufAllocator alloc) {
            ByteBuf direct = target.get();
            return direct != null ? direct : delegate.allocate(alloc);
        }

        @Override
        public int guess() {
            return delegate.guess();
        }

        @Override
        public void reset(ChannelConfig config) {
            delegate.reset(config);
        }

        @Override
        public void incMessagesRead(int numMessages) {
            delegate.incMessagesRead(numMessages);
        }

        @Override
        public void lastBytesRead(int bytes) {
            delegate.lastBytesRead(bytes);
        }

        @Override
        public int lastBytesRead() {
            return delegate.lastBytesRead();
        }

        @Override
        public void attemptedBytesRead(int bytes) {
            delegate.attemptedBytesRead(bytes);
        }

        @Override
        public int attemptedBytesRead() {
            return delegate.attemptedBytesRead();
        }

        @Override
        public boolean continueReading() {
            return delegate.continueReading();
        }

        @Override
        public boolean continueReading(UncheckedBooleanSupplier maybeMoreDataSupplier) {
            return delegate.continueReading(maybeMoreDataSupplier);
        }

        @Override
        public void readComplete() {
            delegate.readComplete();
        }
    }
}
