package io.tapdisk4j.rbd;

import io.tapdisk4j.block.DeviceUri;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * An {@code rbd://[ID@]POOL[/NAMESPACE]/IMAGE[@SNAP][?conf=PATH&keyring=PATH&timeout=SECONDS&OPTION=VALUE…]} URI:
 * the same names as {@code rbd --id ID POOL/NAMESPACE/IMAGE@SNAP} and QEMU's
 * {@code rbd:POOL/NAMESPACE/IMAGE@SNAP:id=ID:conf=PATH}. {@code IMAGE} is null for a pool URI ({@code sr ls}).
 * Every query parameter besides {@code conf}, {@code timeout} and {@code format} is a Ceph option handed to
 * librados ({@code keyring}, {@code mon_host}, {@code rados_osd_op_timeout}, …).
 */
public record RbdUrl(String id, String pool, String namespace, String image, String snapshot, String conf,
                     Integer timeoutSeconds, Map<String, String> cephOptions) {

    /** Query parameters that are tapdisk4j's, not Ceph options. */
    private static final Set<String> OURS = Set.of("conf", "timeout", "format");
    /** Options whose values are secrets: never printed. */
    private static final Set<String> SECRET = Set.of("key", "secret");

    public static RbdUrl parse(DeviceUri uri) {
        if (!uri.scheme().equals("rbd")) {
            throw new IllegalArgumentException("not an rbd:// URI: " + uri);
        }
        if (uri.host() == null || uri.host().isEmpty()) {
            throw new IllegalArgumentException("rbd:// URI without a pool: rbd://[ID@]POOL[/NAMESPACE]/IMAGE[@SNAP] (got '"
                    + safe(uri) + "')");
        }
        if (uri.port() >= 0) {
            throw new IllegalArgumentException("rbd:// names a pool, not host:port; monitors come from conf= or mon_host= ('"
                    + safe(uri) + "')");
        }
        String[] parts = uri.path().isEmpty() ? new String[0] : uri.path().substring(1).split("/", -1);
        String namespace = null;
        String image = null;
        if (parts.length == 1) {
            image = parts[0].isEmpty() ? null : parts[0];
        } else if (parts.length == 2) {
            namespace = parts[0];
            image = parts[1];
        } else if (parts.length > 2) {
            throw new IllegalArgumentException("too many path parts in '" + safe(uri) + "': rbd://POOL[/NAMESPACE]/IMAGE");
        }
        String snap = null;
        if (image != null) {
            int at = image.indexOf('@');
            if (at >= 0) {
                snap = image.substring(at + 1);
                image = image.substring(0, at);
                if (snap.isEmpty()) {
                    throw new IllegalArgumentException("empty snapshot name in '" + safe(uri) + "'");
                }
            }
            if (image.isEmpty()) {
                throw new IllegalArgumentException("empty image name in '" + safe(uri) + "'");
            }
        } else if (namespace != null) {
            throw new IllegalArgumentException("empty image name in '" + safe(uri) + "'");
        }
        Map<String, String> options = new LinkedHashMap<>();
        uri.query().forEach((k, v) -> {
            if (!OURS.contains(k)) {
                options.put(k, v);
            }
        });
        Integer timeout = null;
        if (uri.param("timeout").isPresent()) {
            long t = uri.longParam("timeout", 0);
            if (t < 0 || t > 86_400) {
                throw new IllegalArgumentException("timeout=" + t + " out of range (0..86400 seconds; 0 waits forever)");
            }
            timeout = (int) t;
        }
        String id = uri.userInfo() == null || uri.userInfo().isEmpty() ? "admin" : uri.userInfo();
        return new RbdUrl(id, uri.host(), namespace, image, snap, uri.param("conf").orElse(null), timeout,
                Map.copyOf(options));
    }

    /** {@code POOL[/NAMESPACE]/IMAGE[@SNAP]}, as the rbd tool spells an image. */
    public String imageSpec() {
        return pool + "/" + (namespace == null ? "" : namespace + "/") + image + (snapshot == null ? "" : "@" + snapshot);
    }

    /** The URI without its query (which may name key files): safe for logs and output. */
    public String describe() {
        return "rbd://" + id + "@" + pool + (namespace == null ? "" : "/" + namespace)
                + (image == null ? "" : "/" + image + (snapshot == null ? "" : "@" + snapshot));
    }

    /** The same URI for another image (or snapshot) in the same pool and namespace, with the same options. */
    public RbdUrl withImage(String newImage, String newSnapshot) {
        return new RbdUrl(id, pool, namespace, newImage, newSnapshot, conf, timeoutSeconds, cephOptions);
    }

    /** A URI text for this image with the query of {@code original} (so the cluster options carry over). */
    public String text(DeviceUri original) {
        String q = original.text().indexOf('?') >= 0 ? original.text().substring(original.text().indexOf('?')) : "";
        String user = original.userInfo() == null ? "" : original.userInfo() + "@";
        return "rbd://" + user + pool + (namespace == null ? "" : "/" + namespace)
                + (image == null ? "" : "/" + image + (snapshot == null ? "" : "@" + snapshot)) + q;
    }

    /** Which cluster connection this URL needs: equal keys may share one. */
    String clusterKey() {
        return id + "\0" + conf + "\0" + timeoutSeconds + "\0" + new java.util.TreeMap<>(cephOptions);
    }

    static boolean secret(String option) {
        return SECRET.contains(option);
    }

    /** A URI text with secret option values blanked, for error messages. */
    static String safe(DeviceUri uri) {
        String t = uri.text();
        for (String s : SECRET) {
            t = t.replaceAll("([?&]" + s + "=)[^&]*", "$1***");
        }
        return t;
    }
}
