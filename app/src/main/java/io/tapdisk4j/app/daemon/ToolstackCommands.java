package io.tapdisk4j.app.daemon;

import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.xenbus.Toolstack;
import io.tapdisk4j.ring.xenbus.VbdId;
import io.tapdisk4j.ring.xenstore.XsClient;
import io.tapdisk4j.ring.xenstore.XsException;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The toolstack's half of giving a guest a disk, {@code attach DOMID VDEV URI [--mode r|w] [--data-path P]}
 * and {@code detach DOMID VDEV}: the vbd3 nodes written or removed in xenstore with a toolstack's
 * permissions, so that an {@code xl} user needs no xapi. {@code tapdisk4j ctl attach} does the same from
 * the command line without a daemon; through the control socket the daemon's own xenstore connection does it.
 */
public final class ToolstackCommands {

    static final Duration DETACH_TIMEOUT = Duration.ofSeconds(30);

    private ToolstackCommands() {
    }

    /** attach DOMID VDEV URI [--mode r|w] [--data-path P]; returns a message. */
    public static String attach(XsClient xs, List<String> args) throws XsException {
        List<String> positional = new java.util.ArrayList<>();
        String mode = "w";
        String dataPath = null;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if ((a.equals("--mode") || a.equals("--data-path")) && i + 1 < args.size()) {
                if (a.equals("--mode")) {
                    mode = args.get(++i);
                } else {
                    dataPath = args.get(++i);
                }
            } else if (a.startsWith("--mode=")) {
                mode = a.substring(7);
            } else if (a.startsWith("--data-path=")) {
                dataPath = a.substring(12);
            } else {
                positional.add(a);
            }
        }
        if (positional.size() != 3) {
            throw new IllegalArgumentException("attach DOMID VDEV URI [--mode r|w] [--data-path P]");
        }
        if (!mode.equals("r") && !mode.equals("w")) {
            throw new IllegalArgumentException("--mode is r or w, not '" + mode + "'");
        }
        VbdId id = new VbdId(domid(positional.get(0)), parseVdev(positional.get(1)));
        Map<String, String> extra = new LinkedHashMap<>();
        if (dataPath != null) {
            extra.put("data-path", DataPath.parse(dataPath).cliName());
        }
        Toolstack.attach(xs, id, positional.get(2), mode.equals("r"), extra);
        return id + " attached: " + positional.get(2) + (mode.equals("r") ? " (read-only)" : "")
                + (dataPath != null ? ", data path " + extra.get("data-path") : "");
    }

    /** detach DOMID VDEV: online = 0, wait for the backend to let go (bounded), remove the nodes. */
    public static String detach(XsClient xs, List<String> args) throws XsException, InterruptedException {
        return detach(xs, args, DETACH_TIMEOUT);
    }

    public static String detach(XsClient xs, List<String> args, Duration timeout)
            throws XsException, InterruptedException {
        if (args.size() != 2) {
            throw new IllegalArgumentException("detach DOMID VDEV");
        }
        VbdId id = new VbdId(domid(args.get(0)), parseVdev(args.get(1)));
        boolean confirmed = Toolstack.detach(xs, id, timeout);
        return id + " detached" + (confirmed ? "" : " (no backend confirmed within " + timeout.toSeconds()
                + " s; nodes removed anyway)");
    }

    static int domid(String s) {
        try {
            int d = Integer.parseInt(s);
            if (d >= 1 && d < 0x7ff0) {
                return d;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException("DOMID is a guest's domain id (1..32751), not '" + s + "'");
    }

    /**
     * A virtual device as xl names it: a number (51712), or xvdX / xvdXY (Xen's encoding: major 202 with
     * 16 minors per disk for the first 16 disks, the extended form beyond).
     */
    public static int parseVdev(String s) {
        String v = s.toLowerCase(Locale.ROOT);
        if (v.matches("\\d+")) {
            return Integer.parseInt(v);
        }
        if (v.matches("xvd[a-z]{1,2}")) {
            String letters = v.substring(3);
            int disk = letters.length() == 1 ? letters.charAt(0) - 'a'
                    : (letters.charAt(0) - 'a' + 1) * 26 + (letters.charAt(1) - 'a');
            return disk < 16 ? (202 << 8) | (disk << 4) : (1 << 28) | (disk << 8);
        }
        throw new IllegalArgumentException("VDEV is a device number (51712) or a name like xvda, not '" + s + "'");
    }
}
