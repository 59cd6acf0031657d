package io.tapdisk4j.image;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Writes;

import java.util.concurrent.CompletableFuture;

/**
 * The request paths every sparse image format serves the same way: reads through its layer map under the
 * structure lock, writes through its allocator followed by metadata write-back, and the close that writes
 * the metadata out. The format supplies its map, allocator and metadata writer.
 */
public final class ImageRequests {

    private ImageRequests() {
    }

    /** Writes {@code data} (not taken over) at {@code offset}, allocating where needed. */
    public interface LayerWriter {
        void write(long offset, ByteBuf data) throws BlockDeviceException;
    }

    /** What a closing image does under its exclusive lock before the transport is flushed. */
    public interface Closing {
        void run() throws BlockDeviceException;
    }

    /** A read through the layers (this image, the backing image, zeroes), on a virtual thread. */
    public static CompletableFuture<ByteBuf> read(ImageFile image, LayerMap map, LayerReader.Special special,
                                                  long offset, int length) {
        return Io.async(image.describe(), () -> {
            image.structureLock.readLock().lock();
            ByteBuf out = Buffers.direct(length);
            try {
                LayerReader.readInto(map, image.transport, image.below, special, offset, length, out);
                return out;
            } catch (Throwable t) {
                out.release();
                throw t;
            } finally {
                image.structureLock.readLock().unlock();
            }
        });
    }

    /** A write through the allocator (takes over {@code data}), then what the metadata writer does after one. */
    public static CompletableFuture<Void> write(ImageFile image, LayerWriter writer, MetadataWriteBack metadata,
                                                long offset, ByteBuf data, boolean fua) {
        return Io.async(image.describe(), () -> {
            try {
                image.structureLock.readLock().lock();
                try {
                    writer.write(offset, data);
                } finally {
                    image.structureLock.readLock().unlock();
                }
            } finally {
                data.release();
            }
            metadata.afterWrite(fua);
            return null;
        });
    }

    /** Metadata out behind a flush of the data it describes, then a flush of the transport. */
    public static CompletableFuture<Void> flush(ImageFile image, MetadataWriteBack metadata) {
        return Io.async(image.describe(), () -> {
            metadata.flush();
            return null;
        });
    }

    /** The checks before a write, discard or zeroing: open, writable, in range. */
    public static BlockDeviceException checkWritable(BlockDevice device, ImageFile image, boolean closed,
                                                     long offset, long length) {
        if (closed && !image.readOnly) {
            return new BlockDeviceException(BlockError.ESHUTDOWN, device.describe() + " is closed");
        }
        return Writes.check(device, image.readOnly, offset, length, image.size());
    }

    /**
     * Closes an image: when it was written to, {@code closing} (metadata out, space trimmed) and a flush of
     * the transport under the exclusive lock, logged rather than thrown; then the backing image and the
     * transport are closed.
     */
    public static void close(ImageFile image, boolean writeMetadata, Closing closing) {
        try {
            if (writeMetadata) {
                image.structureLock.writeLock().lock();
                try {
                    closing.run();
                    Io.join(image.transport.flush());
                } catch (BlockDeviceException e) {
                    org.slf4j.LoggerFactory.getLogger(ImageRequests.class).warn("{}: closing: {}", image.describe(),
                            e.getMessage());
                } finally {
                    image.structureLock.writeLock().unlock();
                }
            }
        } finally {
            try {
                image.below.close();
            } finally {
                image.transport.close();
            }
        }
    }
}
