package io.tapdisk4j.block.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Buffers;

import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * What device tests do around a {@link BlockDevice}: wait for an operation with a deadline, make seeded
 * data, wrap it in a dom0 buffer as the frontends do, and read a range back as bytes (releasing the buffer).
 * In block-core's test jar so that every backend's tests share it.
 */
public final class DeviceIo {

    /** How long one operation may take before a test fails instead of hanging. */
    private static final long DEADLINE_SECONDS = 120;

    private DeviceIo() {
    }

    public static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
    }

    public static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** {@code b} in a pooled direct buffer, which the device releases. */
    public static ByteBuf dom0(byte[] b) {
        ByteBuf buf = Buffers.direct(b.length);
        buf.writeBytes(b);
        return buf;
    }

    public static byte[] readAll(BlockDevice d, long offset, int length) throws Exception {
        ByteBuf b = get(d.read(offset, length));
        try {
            return ByteBufUtil.getBytes(b);
        } finally {
            b.release();
        }
    }
}
