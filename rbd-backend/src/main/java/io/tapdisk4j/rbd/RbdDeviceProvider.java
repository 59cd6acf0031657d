package io.tapdisk4j.rbd;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDeviceProvider;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.block.StorageSnapshots;
import io.tapdisk4j.block.local.DaemonThreads;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * {@code rbd://[ID@]POOL[/NAMESPACE]/IMAGE[@SNAP][?conf=…&keyring=…&timeout=…]}: RBD images as block devices,
 * created, removed, renamed and listed with librbd; snapshots and clones are RBD's own (layered clones of
 * protected snapshots).
 */
public final class RbdDeviceProvider implements BlockDeviceProvider, StorageSnapshots {

    /** Blocking management calls (allocation maps, resizes): a few at a time, never per I/O request. */
    private static final ExecutorService BLOCKING = Executors.newCachedThreadPool(new DaemonThreads("rbd-meta"));
    private static final DateTimeFormatter SNAP_TIME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'");

    @Override
    public Set<String> schemes() {
        return Set.of("rbd");
    }

    @Override
    public BlockDevice open(DeviceUri uri, OpenOptions options) throws IOException {
        RbdUrl url = imageUrl(uri);
        RbdImage image = RbdImage.open(RbdCluster.connect(url), options.readOnly());
        try {
            return new RbdBlockDevice(image, BLOCKING);
        } catch (IOException | RuntimeException e) {
            image.close();
            throw e;
        }
    }

    @Override
    public BlockDevice create(DeviceUri uri, long size) throws IOException {
        RbdUrl url = imageUrl(uri);
        if (url.snapshot() != null) {
            throw new BlockDeviceException(BlockError.EINVAL, "cannot create a snapshot as an image: " + url.describe());
        }
        try (RbdCluster c = RbdCluster.connect(url); Arena a = Arena.ofConfined()) {
            MemorySegment order = a.allocate(ValueLayout.JAVA_INT); // 0: the default object size (4 MiB)
            int rc = (int) Native.Admin.RBD_CREATE.invokeExact(c.ioctx(), a.allocateFrom(url.image()), size, order);
            if (rc == -RbdErrors.EEXIST) {
                throw new BlockDeviceException(BlockError.EINVAL, "RBD image " + url.imageSpec() + " already exists");
            }
            if (rc < 0) {
                throw RbdErrors.op("cannot create RBD image " + url.imageSpec(), rc);
            }
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        return open(uri, OpenOptions.DEFAULT);
    }

    @Override
    public void remove(DeviceUri uri) throws IOException {
        RbdUrl url = imageUrl(uri);
        try (RbdCluster c = RbdCluster.connect(url); Arena a = Arena.ofConfined()) {
            int rc = (int) Native.Admin.RBD_REMOVE.invokeExact(c.ioctx(), a.allocateFrom(url.image()));
            if (rc == -RbdErrors.ENOTEMPTY) {
                throw new BlockDeviceException(BlockError.EINVAL, "RBD image " + url.imageSpec()
                        + " has snapshots: remove them first (rbd snap purge)");
            }
            if (rc == -RbdErrors.EBUSY) {
                throw new BlockDeviceException(BlockError.EINVAL, "RBD image " + url.imageSpec()
                        + " is open elsewhere or has clones");
            }
            if (rc < 0) {
                throw RbdErrors.op("cannot remove RBD image " + url.imageSpec(), rc);
            }
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    @Override
    public void rename(DeviceUri from, DeviceUri to) throws IOException {
        RbdUrl f = imageUrl(from);
        RbdUrl t = imageUrl(to);
        if (!f.pool().equals(t.pool()) || !java.util.Objects.equals(f.namespace(), t.namespace())
                || f.snapshot() != null || t.snapshot() != null) {
            throw new BlockDeviceException(BlockError.EINVAL, "an RBD image is renamed within its pool and namespace: "
                    + f.describe() + " -> " + t.describe());
        }
        try (RbdCluster c = RbdCluster.connect(f); Arena a = Arena.ofConfined()) {
            int rc = (int) Native.Admin.RBD_RENAME.invokeExact(c.ioctx(), a.allocateFrom(f.image()), a.allocateFrom(t.image()));
            if (rc < 0) {
                throw RbdErrors.op("cannot rename " + f.imageSpec() + " to " + t.imageSpec(), rc);
            }
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable th) {
            throw new IllegalStateException(th);
        }
    }

    @Override
    public List<String> list(DeviceUri directory) throws IOException {
        return RbdPool.list(directory).stream().map(RbdPool.Image::name).toList();
    }

    @Override
    public DeviceUri resolve(DeviceUri base, String name) {
        RbdUrl url = RbdUrl.parse(base);
        int at = name.indexOf('@');
        return DeviceUri.parse(url.withImage(at < 0 ? name : name.substring(0, at), at < 0 ? null : name.substring(at + 1))
                .text(base));
    }

    @Override
    public DeviceUri snapshot(DeviceUri uri) throws IOException {
        RbdUrl url = imageUrl(uri);
        if (url.snapshot() != null) {
            throw new BlockDeviceException(BlockError.EINVAL, url.describe() + " is a snapshot already");
        }
        String name = "snap-" + SNAP_TIME.format(ZonedDateTime.now(ZoneOffset.UTC)) + "-"
                + UUID.randomUUID().toString().substring(0, 4);
        try (RbdImage image = RbdImage.open(RbdCluster.connect(url), false)) {
            image.snapshotCreate(name);
        }
        return DeviceUri.parse(url.withImage(url.image(), name).text(uri));
    }

    @Override
    public void clone(DeviceUri parent, DeviceUri child) throws IOException {
        RbdUrl p = imageUrl(parent);
        RbdUrl c = imageUrl(child);
        if (c.snapshot() != null) {
            throw new BlockDeviceException(BlockError.EINVAL, "a clone is an image, not a snapshot: " + c.describe());
        }
        String snap = p.snapshot();
        try (RbdImage head = RbdImage.open(RbdCluster.connect(p.withImage(p.image(), null)), false)) {
            if (snap == null) {
                // Cloning an image: RBD clones hang off a snapshot, so take one; the parent stays writable.
                snap = "clone-" + SNAP_TIME.format(ZonedDateTime.now(ZoneOffset.UTC)) + "-"
                        + UUID.randomUUID().toString().substring(0, 4);
                head.snapshotCreate(snap);
            }
            head.snapshotProtect(snap);
        }
        try (RbdCluster pc = RbdCluster.connect(p); RbdCluster cc = RbdCluster.connect(c); Arena a = Arena.ofConfined()) {
            MemorySegment opts = a.allocate(ValueLayout.ADDRESS);
            Native.Admin.RBD_IMAGE_OPTIONS_CREATE.invokeExact(opts);
            MemorySegment o = opts.get(ValueLayout.ADDRESS, 0);
            try {
                int rc = (int) Native.Admin.RBD_CLONE3.invokeExact(pc.ioctx(), a.allocateFrom(p.image()), a.allocateFrom(snap),
                        cc.ioctx(), a.allocateFrom(c.image()), o);
                if (rc == -RbdErrors.EEXIST) {
                    throw new BlockDeviceException(BlockError.EINVAL, "RBD image " + c.imageSpec() + " already exists");
                }
                if (rc < 0) {
                    throw RbdErrors.op("cannot clone " + p.pool() + "/" + p.image() + "@" + snap + " to " + c.imageSpec(), rc);
                }
            } finally {
                Native.Admin.RBD_IMAGE_OPTIONS_DESTROY.invokeExact(o);
            }
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static RbdUrl imageUrl(DeviceUri uri) throws BlockDeviceException {
        RbdUrl url;
        try {
            url = RbdUrl.parse(uri);
        } catch (IllegalArgumentException e) {
            throw new BlockDeviceException(BlockError.EINVAL, e.getMessage());
        }
        if (url.image() == null) {
            throw new BlockDeviceException(BlockError.EINVAL, url.describe() + " names a pool, not an image: rbd://POOL/IMAGE");
        }
        return url;
    }
}
