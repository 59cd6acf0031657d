package io.tapdisk4j.block;

import io.netty.buffer.ByteBuf;

import java.util.concurrent.CompletableFuture;

/**
 * The write path every device shares: refusing writes to read-only devices and beyond the end, and
 * splitting a write at the transport's transfer size (the counterpart of {@link Requests#readInChunks}).
 * Every method takes over the buffer it is given, as {@link BlockDevice#write} does.
 */
public final class Writes {

    private Writes() {
    }

    /** Sends one piece of at most the transport's transfer size; takes over {@code chunk}. */
    @FunctionalInterface
    public interface ChunkWriter {
        CompletableFuture<Void> write(long offset, ByteBuf chunk, boolean fua);
    }

    /**
     * Null when {@code device} may write {@code [offset, offset+length)}, else the error to fail with:
     * EROFS on a read-only device, the range error of {@link Requests#checkRange} otherwise.
     */
    public static BlockDeviceException check(BlockDevice device, boolean readOnly, long offset, long length, long size) {
        if (readOnly) {
            return new BlockDeviceException(BlockError.EROFS, device.describe() + " is read-only");
        }
        return Requests.checkRange(offset, length, size);
    }

    /**
     * The failed future a refused write completes with (after releasing {@code data}), or null when the
     * write may go ahead and {@code data} is still the caller's.
     */
    public static CompletableFuture<Void> refuse(BlockDevice device, boolean readOnly, long offset, ByteBuf data,
                                                 long size) {
        BlockDeviceException bad = check(device, readOnly, offset, data.readableBytes(), size);
        if (bad == null) {
            return null;
        }
        data.release();
        return CompletableFuture.failedFuture(bad);
    }

    /**
     * Writes {@code data} as pieces of at most {@code max} bytes issued together; completes when all have,
     * failing with the first error. An empty write completes at once.
     */
    public static CompletableFuture<Void> inChunks(long offset, ByteBuf data, boolean fua, int max, ChunkWriter chunk) {
        int length = data.readableBytes();
        if (length == 0) {
            data.release();
            return CompletableFuture.completedFuture(null);
        }
        if (length <= max) {
            return chunk.write(offset, data, fua);
        }
        @SuppressWarnings("unchecked")
        CompletableFuture<Void>[] parts = new CompletableFuture[(length + max - 1) / max];
        try {
            for (int i = 0, done = 0; done < length; i++, done += max) {
                int n = Math.min(max, length - done);
                parts[i] = chunk.write(offset + done, data.retainedSlice(data.readerIndex() + done, n), fua);
            }
        } finally {
            data.release();
        }
        return CompletableFuture.allOf(parts);
    }

    /** {@link #refuse} then {@link #inChunks}: the whole write path of a device with nothing else to do. */
    public static CompletableFuture<Void> checkedInChunks(BlockDevice device, boolean readOnly, long size, long offset,
                                                          ByteBuf data, boolean fua, int max, ChunkWriter chunk) {
        CompletableFuture<Void> refused = refuse(device, readOnly, offset, data, size);
        return refused != null ? refused : inChunks(offset, data, fua, max, chunk);
    }
}
