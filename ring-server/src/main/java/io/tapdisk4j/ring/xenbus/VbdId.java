package io.tapdisk4j.ring.xenbus;

/** A virtual block device: the guest's domain id and the device number (the xenstore directory names). */
public record VbdId(int domid, int devid) implements Comparable<VbdId> {

    /** Where tapdisk4j's backends live: blktap3's "vbd3" backend type, in dom0's tree. */
    public static final String BACKEND_ROOT = "/local/domain/0/backend/vbd3";

    public String backendPath() {
        return BACKEND_ROOT + "/" + domid + "/" + devid;
    }

    /** The guest-side directory a toolstack creates for it. */
    public String frontendPath() {
        return "/local/domain/" + domid + "/device/vbd/" + devid;
    }

    @Override
    public String toString() {
        return "vbd3/" + domid + "/" + devid;
    }

    @Override
    public int compareTo(VbdId o) {
        return domid != o.domid ? Integer.compare(domid, o.domid) : Integer.compare(devid, o.devid);
    }

    /** Parses "D/N" or "vbd3/D/N". */
    public static VbdId parse(String s) {
        String t = s.startsWith("vbd3/") ? s.substring(5) : s;
        String[] p = t.split("/");
        if (p.length != 2) {
            throw new IllegalArgumentException("a device is DOMID/DEVID, got '" + s + "'");
        }
        try {
            return new VbdId(Integer.parseInt(p[0]), Integer.parseInt(p[1]));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("a device is DOMID/DEVID, got '" + s + "'");
        }
    }
}
