package io.tapdisk4j.block;

import java.io.IOException;
import java.util.List;
import java.util.Set;

/**
 * A transport for device URIs of some schemes, found with {@link java.util.ServiceLoader}: each backend
 * module lists its provider in {@code META-INF/services/io.tapdisk4j.block.BlockDeviceProvider}.
 */
public interface BlockDeviceProvider {

    Set<String> schemes();

    /** Opens the raw storage the URI names (no format layered on top). */
    BlockDevice open(DeviceUri uri, OpenOptions options) throws IOException;

    /** Creates new, empty storage of {@code size} bytes; transports that cannot (a LUN) refuse. */
    default BlockDevice create(DeviceUri uri, long size) throws IOException {
        throw new BlockDeviceException(BlockError.ENOTSUP, uri.scheme() + ": cannot create storage at " + uri);
    }

    /**
     * {@link #create(DeviceUri, long)}, opened as {@code options} say where the storage has a choice (direct I/O
     * for a local file); the others ignore them.
     */
    default BlockDevice create(DeviceUri uri, long size, OpenOptions options) throws IOException {
        return create(uri, size);
    }

    /**
     * Whether storage exists at {@code uri}: what keeps a side file (a changed-block log) beside an image.
     * Storage without named files of its own (a LUN, an NBD export, memory) refuses with ENOTSUP.
     */
    default boolean exists(DeviceUri uri) throws IOException {
        throw new BlockDeviceException(BlockError.ENOTSUP, uri.scheme() + ": cannot tell whether " + uri + " exists");
    }

    /** Removes the storage the URI names. */
    default void remove(DeviceUri uri) throws IOException {
        throw new BlockDeviceException(BlockError.ENOTSUP, uri.scheme() + ": cannot remove " + uri);
    }

    /**
     * Gives the storage {@code from} names the name {@code to}, atomically where the storage can (a POSIX
     * rename, an NFS RENAME): {@code to} must be of the same scheme and place (file system, NFS export) and
     * must not exist. What {@code vdi snapshot} needs to put a new image in place of an old one. Storage
     * without renameable names (a LUN, an NBD export, memory) refuses with {@link BlockError#ENOTSUP}.
     */
    default void rename(DeviceUri from, DeviceUri to) throws IOException {
        throw new BlockDeviceException(BlockError.ENOTSUP, "storage '" + from.scheme() + ":' cannot rename (" + from + ")");
    }

    /** Lists the entries of a directory-like URI (for {@code sr ls}); transports without directories refuse. */
    default List<String> list(DeviceUri directory) throws IOException {
        throw new BlockDeviceException(BlockError.ENOTSUP, uri(directory) + ": not a directory-like URI");
    }

    /** A URI naming {@code name} relative to {@code base} (for parent locators); null when not possible. */
    default DeviceUri resolve(DeviceUri base, String name) {
        return null;
    }

    private static String uri(DeviceUri u) {
        return u.text();
    }
}
