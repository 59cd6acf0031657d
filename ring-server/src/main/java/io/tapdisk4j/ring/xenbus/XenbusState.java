package io.tapdisk4j.ring.xenbus;

/** enum xenbus_state of xen/io/xenbus.h, as written in every device's {@code state} node. */
public enum XenbusState {
    UNKNOWN, INITIALISING, INIT_WAIT, INITIALISED, CONNECTED, CLOSING, CLOSED, RECONFIGURING, RECONFIGURED;

    public int code() {
        return ordinal();
    }

    /** The state a {@code state} node holds; anything unparsable (or a missing node) reads as UNKNOWN. */
    public static XenbusState parse(String value) {
        if (value == null) {
            return UNKNOWN;
        }
        try {
            int v = Integer.parseInt(value.trim());
            return v >= 0 && v < values().length ? values()[v] : UNKNOWN;
        } catch (NumberFormatException e) {
            return UNKNOWN;
        }
    }

    /** The code as xenstore holds it. */
    public String value() {
        return Integer.toString(ordinal());
    }
}
