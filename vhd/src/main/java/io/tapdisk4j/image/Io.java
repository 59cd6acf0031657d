package io.tapdisk4j.image;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * Blocking helpers over the asynchronous {@link BlockDevice}: image formats run on virtual threads, where
 * waiting for a transport future costs no platform thread, so it can be written as plain sequential code.
 */
public final class Io {

    public static final ExecutorService VIRTUAL = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("tapdisk4j-image-", 0).factory());

    private Io() {
    }

    public interface Body<T> {
        T run() throws Exception;
    }

    /** Runs {@code body} on a virtual thread; failures become {@link BlockDeviceException}s. */
    public static <T> CompletableFuture<T> async(String what, Body<T> body) {
        CompletableFuture<T> f = new CompletableFuture<>();
        try {
            VIRTUAL.execute(() -> {
                try {
                    f.complete(body.run());
                } catch (Throwable t) {
                    f.completeExceptionally(asBlock(what, t));
                }
            });
        } catch (RuntimeException e) {
            f.completeExceptionally(asBlock(what, e));
        }
        return f;
    }

    public static BlockDeviceException asBlock(String what, Throwable t) {
        Throwable c = BlockDeviceException.unwrap(t);
        if (c instanceof BlockDeviceException b) {
            return b;
        }
        return new BlockDeviceException(BlockError.EIO, what + ": " + c, c);
    }

    public static <T> T join(CompletableFuture<T> f) throws BlockDeviceException {
        try {
            return f.join();
        } catch (CompletionException e) {
            Throwable c = BlockDeviceException.unwrap(e);
            if (c instanceof BlockDeviceException b) {
                throw new BlockDeviceException(b.error(), b.getMessage(), b);
            }
            throw new BlockDeviceException(BlockError.EIO, String.valueOf(c), c);
        }
    }

    /** Waits for every future; throws the first failure once all have completed. */
    public static void joinAll(java.util.List<CompletableFuture<Void>> all) throws BlockDeviceException {
        BlockDeviceException first = null;
        for (CompletableFuture<Void> f : all) {
            try {
                join(f);
            } catch (BlockDeviceException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    public static <T> T join(Supplier<CompletableFuture<T>> s) throws BlockDeviceException {
        return join(s.get());
    }

    public static byte[] read(BlockDevice dev, long offset, int length) throws BlockDeviceException {
        ByteBuf b = join(dev.read(offset, length));
        try {
            byte[] out = new byte[length];
            b.getBytes(b.readerIndex(), out);
            return out;
        } finally {
            b.release();
        }
    }

    /**
     * Reads {@code length} bytes at any offset by reading the whole 512-byte sectors around them: a LUN
     * refuses I/O that is not sector aligned, and metadata (a qcow2 header, an L1 table) need not be.
     */
    public static byte[] readAligned(BlockDevice dev, long offset, int length) throws BlockDeviceException {
        long start = offset / 512 * 512;
        long end = Math.min(Math.max(dev.size(), offset + length), (offset + length + 511) / 512 * 512);
        if (start == offset && end == offset + length) {
            return read(dev, offset, length);
        }
        if (end > dev.size()) {
            return read(dev, offset, length); // a file's unaligned tail: files take any alignment
        }
        byte[] whole = read(dev, start, (int) (end - start));
        return java.util.Arrays.copyOfRange(whole, (int) (offset - start), (int) (offset - start) + length);
    }

    /** Writes {@code data} at any offset, reading and rewriting the partial sectors at its ends (see readAligned). */
    public static void writeAligned(BlockDevice dev, long offset, byte[] data) throws BlockDeviceException {
        long start = offset / 512 * 512;
        long end = (offset + data.length + 511) / 512 * 512;
        if ((start == offset && end == offset + data.length) || end > dev.size()) {
            write(dev, offset, data);
            return;
        }
        byte[] whole = read(dev, start, (int) (end - start));
        System.arraycopy(data, 0, whole, (int) (offset - start), data.length);
        write(dev, start, whole);
    }

    public static CompletableFuture<Void> writeAsync(BlockDevice dev, long offset, byte[] data) {
        ByteBuf b = Buffers.direct(data.length).writeBytes(data);
        return dev.write(offset, b, false);
    }

    public static void write(BlockDevice dev, long offset, byte[] data) throws BlockDeviceException {
        join(writeAsync(dev, offset, data));
    }

    public static ByteBuf wrap(byte[] data) {
        return Unpooled.wrappedBuffer(data);
    }

    /** Writes zeroes over a range: the device's own write-zeroes if it has one, else zero buffers. */
    public static CompletableFuture<Void> zero(BlockDevice dev, long offset, long length) {
        if (length <= 0) {
            return CompletableFuture.completedFuture(null);
        }
        if (dev.has(io.tapdisk4j.block.Capability.WRITE_ZEROES)) {
            return dev.writeZeroes(offset, length, false);
        }
        CompletableFuture<Void> all = CompletableFuture.completedFuture(null);
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(length - done, 1 << 20);
            CompletableFuture<Void> w = dev.write(offset + done, Buffers.zeroes(n), false);
            all = all.thenCombine(w, (a, b) -> null);
            done += n;
        }
        return all;
    }
}
