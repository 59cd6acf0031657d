package io.tapdisk4j.block;

import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A virtual disk: the one interface between frontends (ring server, NBD server) and storage
 * (local files, VHD, NBD, NFS, iSCSI).
 *
 * <h2>Buffer ownership (the rule that keeps guest memory out of the network)</h2>
 * <ul>
 *   <li>{@link #read}: the device allocates the result (pooled direct memory from
 *       {@link Buffers#allocator()}) and hands the caller exactly one reference; the caller releases it.
 *       A failed read hands back nothing.</li>
 *   <li>{@link #write}: the caller transfers one reference of {@code data} to the device, which reads
 *       the bytes from {@code readerIndex()} to {@code writerIndex()} and releases that reference when it
 *       no longer needs them, which may be after the returned future completes (an NFS client keeps
 *       unstable writes until COMMIT). The caller never modifies the bytes after the call; it may keep
 *       its own reference with {@code retain()} before calling. Buffers passed here are always dom0-owned:
 *       never a mapping of guest memory, except in the ring server's explicitly unsafe data path.</li>
 *   <li>Futures complete on any thread; failures are {@link BlockDeviceException} carrying a
 *       {@link BlockError}.</li>
 * </ul>
 * Offsets and lengths are in bytes. Requests beyond {@link #size()} fail with {@link BlockError#EINVAL}
 * (or {@link BlockError#EOVERFLOW} when the arithmetic would overflow).
 */
public interface BlockDevice extends AutoCloseable {

    /** Size in bytes. */
    long size();

    /** The smallest unit of I/O this device supports without read-modify-write (512 unless told). */
    default int logicalBlockSize() {
        return 512;
    }

    /** The device's natural I/O size (4096 for most); frontends report it as the physical sector size. */
    default int physicalBlockSize() {
        return 4096;
    }

    Set<Capability> capabilities();

    default boolean has(Capability capability) {
        return capabilities().contains(capability);
    }

    /** Reads {@code length} bytes at {@code offset}; the caller owns (and releases) the result. */
    CompletableFuture<ByteBuf> read(long offset, int length);

    /** Writes {@code data} at {@code offset}, taking over one reference of it. {@code fua}: durable on completion. */
    CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua);

    /** Makes every completed write durable. */
    CompletableFuture<Void> flush();

    /**
     * Discards a range (contents afterwards unspecified unless {@link Capability#DISCARD_ZEROES}).
     * {@code secure}: the old data must not be recoverable; only with {@link Capability#SECURE_DISCARD}.
     */
    CompletableFuture<Void> discard(long offset, long length, boolean secure);

    /** Makes a range read back as zeroes; {@code mayUnmap} allows deallocation (NBD's lack of NO_HOLE). */
    CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap);

    /**
     * Which parts of a range hold data: contiguous, non-overlapping extents that together cover
     * {@code [offset, offset+length)} (or a prefix of it, at least one extent). A device that cannot tell
     * reports everything as allocated data.
     */
    CompletableFuture<List<Extent>> allocation(long offset, long length);

    /**
     * Which layer of an image chain holds each part of a range (NBD's {@code qemu:allocation-depth}): 0 for
     * none, 1 for this image, 2 for its parent, and so on. A device with no layers reports its allocation.
     */
    default CompletableFuture<List<BlockStatus>> allocationDepth(long offset, long length) {
        return allocation(offset, length).thenApply(extents -> extents.stream()
                .map(e -> new BlockStatus(e.offset(), e.length(), e.hole() ? 0 : 1)).toList());
    }

    /** The changed-block bitmaps this device keeps (none unless changed-block tracking is on). */
    default List<DirtyBitmap> dirtyBitmaps() {
        return List.of();
    }

    /** Changes the size (for {@code vdi resize}, and for formats that append to their transport). */
    default CompletableFuture<Void> resize(long newSize) {
        return Requests.failed(BlockError.ENOTSUP, describe() + " cannot be resized");
    }

    /** Releases the device; in-flight requests complete or fail first. */
    @Override
    void close();

    /** A short description for logs and {@code ctl list}, for example {@code file:///srv/a.raw}. */
    String describe();
}
