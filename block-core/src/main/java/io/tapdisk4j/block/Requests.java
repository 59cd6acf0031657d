package io.tapdisk4j.block;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/** Shared validation of request ranges, so every device refuses bad input the same way. */
public final class Requests {

    private Requests() {
    }

    /** Null when {@code [offset, offset+length)} lies within {@code size}, else the error to report. */
    public static BlockDeviceException checkRange(long offset, long length, long size) {
        if (offset < 0 || length < 0) {
            return new BlockDeviceException(BlockError.EINVAL, "negative offset or length: " + offset + "+" + length);
        }
        long end = offset + length;
        if (end < 0) {
            return new BlockDeviceException(BlockError.EOVERFLOW, "range overflows: " + offset + "+" + length);
        }
        if (end > size) {
            return new BlockDeviceException(BlockError.EINVAL,
                    "range " + offset + "+" + length + " beyond end of device (" + size + " bytes)");
        }
        return null;
    }

    public static <T> CompletableFuture<T> failed(BlockError error, String message) {
        return CompletableFuture.failedFuture(new BlockDeviceException(error, message));
    }

    /** Reads one piece of at most the transport's transfer size. */
    @FunctionalInterface
    public interface ChunkReader {
        CompletableFuture<ByteBuf> read(long offset, int length);
    }

    /**
     * A read larger than {@code max} as pieces of at most {@code max} bytes issued together, composed in
     * order into one buffer; if any piece fails, the pieces that arrived are released and the read fails
     * with the first error.
     */
    public static CompletableFuture<ByteBuf> readInChunks(long offset, int length, int max, ChunkReader chunk) {
        if (length <= max) {
            return chunk.read(offset, length);
        }
        List<CompletableFuture<ByteBuf>> parts = new ArrayList<>((length + max - 1) / max);
        for (int done = 0; done < length; done += max) {
            parts.add(chunk.read(offset + done, Math.min(max, length - done)));
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).handle((v, err) -> {
            if (err != null) {
                for (CompletableFuture<ByteBuf> p : parts) {
                    if (!p.isCompletedExceptionally()) {
                        p.join().release();
                    }
                }
                throw new CompletionException(BlockDeviceException.unwrap(err));
            }
            CompositeByteBuf all = Buffers.allocator().compositeDirectBuffer(parts.size());
            for (CompletableFuture<ByteBuf> p : parts) {
                all.addComponent(true, p.join());
            }
            return all;
        });
    }
}
