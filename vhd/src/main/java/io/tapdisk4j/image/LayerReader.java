package io.tapdisk4j.image;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.Buffers;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Reads a range of an image layer: the runs its {@link LayerMap} reports are read from the file, the backing
 * image or zeroes, all issued at once and gathered in order into one buffer.
 */
public final class LayerReader {

    /** Reads a run the map marks {@link LayerMap#SPECIAL} (a compressed cluster, for instance). */
    public interface Special {
        CompletableFuture<ByteBuf> read(long at, int bytes);
    }

    private LayerReader() {
    }

    /** Appends the range's bytes to {@code out}; on failure {@code out} holds an unspecified prefix. */
    public static void readInto(LayerMap map, BlockDevice file, BackingLayer below, Special special,
                                long offset, int length, ByteBuf out) throws BlockDeviceException {
        List<CompletableFuture<ByteBuf>> pieces = new ArrayList<>();
        map.walk(offset, length, (at, bytes, fileAt) -> pieces.add(
                fileAt >= 0 ? file.read(fileAt, bytes)
                        : fileAt == LayerMap.ZERO ? CompletableFuture.completedFuture(Buffers.zeroes(bytes))
                        : fileAt == LayerMap.SPECIAL ? special.read(at, bytes)
                        : below.read(at, bytes)));
        BlockDeviceException failure = null;
        for (CompletableFuture<ByteBuf> f : pieces) {
            try {
                ByteBuf b = Io.join(f);
                try {
                    if (failure == null) {
                        out.writeBytes(b, b.readerIndex(), b.readableBytes());
                    }
                } finally {
                    b.release();
                }
            } catch (BlockDeviceException e) {
                if (failure == null) {
                    failure = e;
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
