package io.tapdisk4j.rbd;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;

/**
 * One librados connection ({@code rados_t}) and an I/O context on one pool and namespace: what an
 * {@link RbdImage} and the pool operations run on. Connecting reads the conf file, applies the URI's Ceph
 * options and the timeouts, then authenticates; failures say which of those went wrong without quoting keys.
 */
final class RbdCluster implements AutoCloseable {

    /** Seconds an OSD or monitor request may wait when neither the URI nor the conf file says. */
    static final int DEFAULT_OP_TIMEOUT = 120;
    /** Seconds connecting may take when neither the URI nor the conf file says (Ceph's own default is 300). */
    static final int DEFAULT_MOUNT_TIMEOUT = 30;

    private final RbdUrl url;
    private final MemorySegment cluster;
    private final MemorySegment ioctx;
    private boolean closed;

    private RbdCluster(RbdUrl url, MemorySegment cluster, MemorySegment ioctx) {
        this.url = url;
        this.cluster = cluster;
        this.ioctx = ioctx;
    }

    static RbdCluster connect(RbdUrl url) throws BlockDeviceException {
        MemorySegment cluster = MemorySegment.NULL;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            check(url, "create a client", (int) Native.Rados.RADOS_CREATE2.invokeExact(out, a.allocateFrom("ceph"),
                    a.allocateFrom("client." + url.id()), 0L));
            cluster = out.get(ValueLayout.ADDRESS, 0);
            MemorySegment confPath = url.conf() == null ? MemorySegment.NULL : a.allocateFrom(url.conf());
            int rc = (int) Native.Rados.RADOS_CONF_READ_FILE.invokeExact(cluster, confPath);
            if (rc < 0 && (url.conf() != null || !url.cephOptions().containsKey("mon_host"))) {
                throw new BlockDeviceException(BlockError.EINVAL, "cannot read Ceph configuration "
                        + (url.conf() == null ? "(default locations: /etc/ceph/ceph.conf, ~/.ceph/config, ./ceph.conf)"
                        : url.conf()) + ": " + RbdErrors.name(-rc) + " (" + url.describe() + ")");
            }
            for (Map.Entry<String, String> o : url.cephOptions().entrySet()) {
                rc = (int) Native.Rados.RADOS_CONF_SET.invokeExact(cluster, a.allocateFrom(o.getKey()), a.allocateFrom(o.getValue()));
                if (rc < 0) {
                    throw new BlockDeviceException(BlockError.EINVAL, "bad Ceph option " + o.getKey()
                            + (RbdUrl.secret(o.getKey()) ? "" : "=" + o.getValue()) + " in " + url.describe()
                            + ": " + RbdErrors.name(-rc));
                }
            }
            // A write completes once it is on the OSDs, as with QEMU's cache=none and tapdisk3's O_DIRECT: librbd's
            // writeback cache would acknowledge writes that only this process holds.
            ourDefault(a, cluster, url, "rbd_cache", "false");
            // Not librbd's zero-copy writes (rbd_disable_zero_copy_writes=false) by default: they hold a write's
            // completion until the messenger lets go of the buffer, and with the OSD away a write then never
            // failed at timeout= (RbdFaultTest). librbd copies (its default) unless the URI asks otherwise.
            timeout(a, cluster, url, "rados_osd_op_timeout", "0", DEFAULT_OP_TIMEOUT);
            timeout(a, cluster, url, "rados_mon_op_timeout", "0", DEFAULT_OP_TIMEOUT);
            timeout(a, cluster, url, "client_mount_timeout", "300", DEFAULT_MOUNT_TIMEOUT);
            rc = (int) Native.Rados.RADOS_CONNECT.invokeExact(cluster);
            if (rc < 0) {
                throw connectError(url, rc);
            }
            MemorySegment io = a.allocate(ValueLayout.ADDRESS);
            rc = (int) Native.Rados.RADOS_IOCTX_CREATE.invokeExact(cluster, a.allocateFrom(url.pool()), io);
            if (rc < 0) {
                throw rc == -RbdErrors.ENOENT
                        ? new BlockDeviceException(BlockError.EINVAL, "Ceph pool '" + url.pool() + "' does not exist ("
                        + url.describe() + ")")
                        : RbdErrors.op("cannot open pool '" + url.pool() + "' as client." + url.id(), rc);
            }
            MemorySegment ctx = io.get(ValueLayout.ADDRESS, 0);
            if (url.namespace() != null) {
                Native.Rados.RADOS_IOCTX_SET_NAMESPACE.invokeExact(ctx, a.allocateFrom(url.namespace()));
            }
            return new RbdCluster(url, cluster, ctx);
        } catch (BlockDeviceException | RuntimeException | Error e) {
            shutdown(cluster);
            throw e;
        } catch (Throwable t) {
            shutdown(cluster);
            throw new IllegalStateException(t);
        }
    }

    private static BlockDeviceException connectError(RbdUrl url, int rc) {
        int errno = -rc;
        String who = "client." + url.id();
        return switch (errno) {
            case RbdErrors.EPERM, RbdErrors.EACCES -> new BlockDeviceException(BlockError.EACCES,
                    "Ceph refused " + who + ": wrong or missing cephx key (keyring=) for " + url.describe());
            case RbdErrors.ENOENT -> new BlockDeviceException(BlockError.EACCES,
                    "no cephx key for " + who + " (keyring= names none) for " + url.describe());
            case RbdErrors.ETIMEDOUT -> new BlockDeviceException(BlockError.ETIMEDOUT,
                    "no Ceph monitor answered " + who + " in time (client_mount_timeout) for " + url.describe());
            default -> new BlockDeviceException(BlockError.EIO,
                    "cannot connect to the Ceph cluster as " + who + " for " + url.describe() + ": " + RbdErrors.name(errno));
        };
    }

    private static void ourDefault(Arena a, MemorySegment cluster, RbdUrl url, String option, String value) throws Throwable {
        if (url.cephOptions().containsKey(option)) {
            return;
        }
        int rc = (int) Native.Rados.RADOS_CONF_SET.invokeExact(cluster, a.allocateFrom(option), a.allocateFrom(value));
        if (rc < 0) {
            throw new BlockDeviceException(BlockError.EINVAL, "cannot set " + option + "=" + value + ": " + RbdErrors.name(-rc));
        }
    }

    /** Sets {@code option}: the URI's timeout if it has one, else ours unless the conf file changed Ceph's default. */
    private static void timeout(Arena a, MemorySegment cluster, RbdUrl url, String option, String cephDefault, int ours)
            throws Throwable {
        String value;
        if (url.timeoutSeconds() != null) {
            value = url.timeoutSeconds().toString();
        } else if (url.cephOptions().containsKey(option)) {
            return;
        } else {
            MemorySegment buf = a.allocate(64);
            int rc = (int) Native.Rados.RADOS_CONF_GET.invokeExact(cluster, a.allocateFrom(option), buf, 64L);
            if (rc < 0 || !buf.getString(0).equals(cephDefault)) {
                return;
            }
            value = Integer.toString(ours);
        }
        int rc = (int) Native.Rados.RADOS_CONF_SET.invokeExact(cluster, a.allocateFrom(option), a.allocateFrom(value));
        if (rc < 0) {
            throw new BlockDeviceException(BlockError.EINVAL, "cannot set " + option + "=" + value + ": " + RbdErrors.name(-rc));
        }
    }

    private static void check(RbdUrl url, String what, int rc) throws BlockDeviceException {
        if (rc < 0) {
            throw RbdErrors.op("librados: cannot " + what + " for " + url.describe(), rc);
        }
    }

    RbdUrl url() {
        return url;
    }

    MemorySegment ioctx() {
        return ioctx;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            Native.Rados.RADOS_IOCTX_DESTROY.invokeExact(ioctx);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        shutdown(cluster);
    }

    private static void shutdown(MemorySegment cluster) {
        if (cluster.equals(MemorySegment.NULL)) {
            return;
        }
        try {
            Native.Rados.RADOS_SHUTDOWN.invokeExact(cluster);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
