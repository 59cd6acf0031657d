package io.tapdisk4j.nfs.device;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.DeviceUri;

import java.time.Duration;

/**
 * An {@code nfs://server[:port]/export/path/to/file?…} URL with libnfs's parameters: {@code nfsport},
 * {@code mountport}, {@code uid}, {@code gid}, {@code nconnect}, {@code version} (3 only), plus the mount
 * options {@code timeo} (deciseconds before a retransmission, as for Linux and libnfs), {@code retrans}
 * and {@code soft} / {@code hard}: a soft mount fails a request after timeo × (retrans + 1), a hard one
 * retries forever. {@code maxunstable} (bytes, {@code 64M} by default) bounds the dom0 memory held for
 * unstable writes: past it a COMMIT starts in the background.
 */
public record NfsUrl(DeviceUri uri, String host, int nfsPort, int mountPort, int uid, int gid, int nconnect,
                     Duration timeout, int retrans, boolean soft, long maxUnstable, String path) {

    /** Default for {@code maxunstable}: unstable bytes held in dom0 before a COMMIT starts in the background. */
    public static final long DEFAULT_MAX_UNSTABLE = 64L << 20;

    public static NfsUrl parse(DeviceUri uri) throws BlockDeviceException {
        if (uri.host() == null) {
            throw new BlockDeviceException(BlockError.EINVAL, "nfs URL needs a server: " + uri);
        }
        String path = uri.path();
        if (path.isEmpty() || !path.startsWith("/")) {
            throw new BlockDeviceException(BlockError.EINVAL, "nfs URL needs an absolute path: " + uri);
        }
        while (path.length() > 1 && path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        try {
            long version = uri.longParam("version", 3);
            if (version != 3) {
                throw new BlockDeviceException(BlockError.ENOTSUP, "only NFS version 3 is supported, not " + version
                        + " (" + uri + ")");
            }
            int nfsPort = (int) uri.longParam("nfsport", uri.port(-1));
            int mountPort = (int) uri.longParam("mountport", -1);
            int uid = (int) uri.longParam("uid", currentId(true));
            int gid = (int) uri.longParam("gid", currentId(false));
            int nconnect = (int) uri.longParam("nconnect", 1);
            if (nconnect < 1 || nconnect > 16) {
                throw new BlockDeviceException(BlockError.EINVAL, "nconnect must be 1..16: " + uri);
            }
            long timeo = uri.longParam("timeo", 100);
            int retrans = (int) uri.longParam("retrans", 2);
            if (timeo < 1 || retrans < 0) {
                throw new BlockDeviceException(BlockError.EINVAL, "timeo must be positive and retrans not negative: " + uri);
            }
            boolean soft = uri.param("soft").map(v -> !v.equals("0") && !v.equals("false")).orElse(false)
                    && !uri.query().containsKey("hard");
            long maxUnstable = uri.sizeParam("maxunstable", DEFAULT_MAX_UNSTABLE);
            if (maxUnstable < 0) {
                throw new BlockDeviceException(BlockError.EINVAL, "maxunstable must not be negative: " + uri);
            }
            return new NfsUrl(uri, uri.host(), nfsPort, mountPort, uid, gid, nconnect, Duration.ofMillis(timeo * 100),
                    retrans, soft, maxUnstable, path);
        } catch (IllegalArgumentException e) {
            throw new BlockDeviceException(BlockError.EINVAL, e.getMessage());
        }
    }

    private static long currentId(boolean uid) {
        try {
            var unix = new com.sun.security.auth.module.UnixSystem();
            return uid ? unix.getUid() : unix.getGid();
        } catch (LinkageError | RuntimeException e) {
            return 65534; // nobody, when the platform cannot say
        }
    }

    /** How long a soft mount waits before failing a request. */
    public Duration softDeadline() {
        return timeout.multipliedBy(retrans + 1L);
    }

    /** The parent directory of {@link #path()}. */
    public String parentPath() {
        int slash = path.lastIndexOf('/');
        return slash <= 0 ? "/" : path.substring(0, slash);
    }

    public String fileName() {
        return path.substring(path.lastIndexOf('/') + 1);
    }
}
