package io.tapdisk4j.safety.hostile;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.ForwardingBlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;

import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

/**
 * A storage device that misbehaves on reads with dom0 memory full of a canary pattern: some reads fail
 * after filling (and releasing) a pooled buffer with the canary, some return short buffers whose unread
 * capacity holds the canary. The ring server must never let those bytes reach a guest page.
 */
final class CanaryDevice extends ForwardingBlockDevice {

    static final long CANARY = 0x5AFEC0DEDEADBEEFL;

    private final SplittableRandom random;
    private volatile boolean misbehave = true;

    CanaryDevice(BlockDevice inner, long seed) {
        super(inner);
        this.random = new SplittableRandom(seed);
    }

    void misbehave(boolean on) {
        misbehave = on;
    }

    static ByteBuf canary(int capacity) {
        ByteBuf b = Buffers.direct(capacity);
        for (int i = 0; i + 8 <= capacity; i += 8) {
            b.setLong(i, CANARY);
        }
        return b;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        int mode;
        synchronized (random) {
            mode = misbehave ? random.nextInt(4) : 0;
        }
        switch (mode) {
            case 1 -> { // fail, after leaving canary bytes in pooled memory for the next allocation
                canary(length).release();
                return CompletableFuture.failedFuture(new BlockDeviceException(BlockError.EIO, "canary: injected read error"));
            }
            case 2 -> { // short read: canary in the capacity beyond what was "read"
                ByteBuf b = canary(length);
                b.writerIndex(length / 2 / 512 * 512);
                return CompletableFuture.completedFuture(b);
            }
            default -> {
                return delegate.read(offset, length);
            }
        }
    }

    @Override
    public String describe() {
        return "canary(" + delegate.describe() + ")";
    }
}
