package io.tapdisk4j.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.DefaultMaxMessagesRecvByteBufAllocator;

/**
 * The receive buffers of an initiator connection. While its {@link PduDecoder} is placing a large
 * Data-In, the socket reads straight into the destination (the rest of that data segment, no more);
 * otherwise into pooled buffers sized like Netty's adaptive allocator: doubled while reads fill them,
 * halved after reads that use less than half twice running. Right after a placement only one header is
 * read, so that the next large Data-In is placed without copying any of its data.
 */
public final class PduReadAllocator extends DefaultMaxMessagesRecvByteBufAllocator {

    static final int MIN = 512;
    static final int INITIAL = 16384;
    static final int MAX = 262144;

    private final PduDecoder decoder;

    /** Reads per readiness event; the base class allows one, which costs an epoll_wait per read. */
    static final int READS_PER_EVENT = 16;

    public PduReadAllocator(PduDecoder decoder) {
        super(READS_PER_EVENT);
        this.decoder = decoder;
    }

    @Override
    public Handle newHandle() {
        return new ReadHandle();
    }

    private final class ReadHandle extends MaxMessageHandle {
        private int size = INITIAL;
        private boolean shrinkNext;
        private boolean target;
        private int lastNormal;

        @Override
        public ByteBuf allocate(ByteBufAllocator alloc) {
            ByteBuf t = decoder.nextReadTarget();
            target = t != null;
            if (target) {
                return t;
            }
            int header = decoder.headerOnlyRead();
            lastNormal = header > 0 ? header : size;
            return alloc.ioBuffer(lastNormal);
        }

        @Override
        public int guess() {
            return size;
        }

        @Override
        public void lastBytesRead(int bytes) {
            if (!target && bytes > 0 && lastNormal == size) {
                if (bytes >= size) {
                    size = Math.min(MAX, size << 1);
                    shrinkNext = false;
                } else if (bytes < size >> 1) {
                    if (shrinkNext) {
                        size = Math.max(MIN, size >> 1);
                    }
                    shrinkNext = !shrinkNext;
                } else {
                    shrinkNext = false;
                }
            }
            super.lastBytesRead(bytes);
        }
    }
}
