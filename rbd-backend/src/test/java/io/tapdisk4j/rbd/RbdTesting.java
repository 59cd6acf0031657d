package io.tapdisk4j.rbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Buffers;

import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** Helpers the rbd tests share. */
final class RbdTesting {

    private static final AtomicInteger NEXT = new AtomicInteger();

    private RbdTesting() {
    }

    /** An image name no other test of this JVM uses. */
    static String name(String prefix) {
        return prefix + "-" + ProcessHandle.current().pid() + "-" + NEXT.incrementAndGet();
    }

    static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(120, TimeUnit.SECONDS);
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static ByteBuf dom0(byte[] b) {
        ByteBuf buf = Buffers.direct(b.length);
        buf.writeBytes(b);
        return buf;
    }

    static byte[] read(BlockDevice d, long offset, int length) throws Exception {
        ByteBuf b = get(d.read(offset, length));
        try {
            return ByteBufUtil.getBytes(b);
        } finally {
            b.release();
        }
    }
}
