package io.tapdisk4j.block;

import java.io.IOException;

/**
 * A {@link BlockDeviceProvider} whose storage has snapshots and clones of its own (Ceph RBD): {@code vdi snapshot}
 * and {@code vdi clone} use them instead of an image format's differencing children.
 */
public interface StorageSnapshots {

    /** Snapshots the image at {@code uri} in place (it stays writable there); returns the snapshot's URI. */
    DeviceUri snapshot(DeviceUri uri) throws IOException;

    /** Creates {@code child} as a copy-on-write clone of {@code parent} (a snapshot, or an image to snapshot first). */
    void clone(DeviceUri parent, DeviceUri child) throws IOException;
}
