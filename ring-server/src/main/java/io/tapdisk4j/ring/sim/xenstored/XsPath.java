package io.tapdisk4j.ring.sim.xenstored;

import io.tapdisk4j.ring.xenstore.XsError;
import io.tapdisk4j.ring.xenstore.XsMessage;

/**
 * Path rules of xenstored: absolute paths start with '/', relative ones are relative to the connection's
 * home (/local/domain/0 for a socket: a dom0 connection); only letters, digits and "-/_@" are allowed, no
 * empty components, no trailing '/' (except the root); at most XENSTORE_ABS_PATH_MAX / REL_PATH_MAX bytes.
 * Watch paths may also be the special "@introduceDomain" and "@releaseDomain".
 */
final class XsPath {

    static final String HOME = "/local/domain/0";

    private XsPath() {
    }

    /** The absolute, validated form of {@code path}. */
    static String absolute(String path) throws StoreException {
        if (path.startsWith("/")) {
            if (path.length() > XsMessage.ABS_PATH_MAX) {
                throw new StoreException(XsError.EINVAL);
            }
            check(path);
            return path;
        }
        if (path.isEmpty() || path.length() > XsMessage.REL_PATH_MAX) {
            throw new StoreException(XsError.EINVAL);
        }
        String abs = HOME + "/" + path;
        check(abs);
        return abs;
    }

    static boolean special(String path) {
        return path.equals("@introduceDomain") || path.equals("@releaseDomain");
    }

    private static void check(String p) throws StoreException {
        if (p.equals("/")) {
            return;
        }
        if (p.endsWith("/") || p.contains("//")) {
            throw new StoreException(XsError.EINVAL);
        }
        for (int i = 0; i < p.length(); i++) {
            char c = p.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '/' || c == '_' || c == '@';
            if (!ok) {
                throw new StoreException(XsError.EINVAL);
            }
        }
    }

    /** The components of an absolute path ("/" has none). */
    static String[] parts(String abs) {
        return abs.equals("/") ? new String[0] : abs.substring(1).split("/");
    }

    static String parent(String abs) {
        int i = abs.lastIndexOf('/');
        return i <= 0 ? "/" : abs.substring(0, i);
    }

    /** True when {@code path} is {@code ancestor} or below it. */
    static boolean atOrBelow(String path, String ancestor) {
        if (ancestor.equals("/")) {
            return path.startsWith("/");
        }
        return path.equals(ancestor) || (path.startsWith(ancestor) && path.charAt(ancestor.length()) == '/');
    }

    static String child(String abs, String name) {
        return abs.equals("/") ? "/" + name : abs + "/" + name;
    }

    /** How a watch that was registered relative to the home reports an absolute path. */
    static String relativize(String abs) {
        return abs.startsWith(HOME + "/") ? abs.substring(HOME.length() + 1) : abs;
    }
}
