package io.tapdisk4j.block;

/**
 * How to open a device. {@code format}: "raw", "vhd", or null to probe (formats are layered over the
 * transport the URI names).
 */
public record OpenOptions(boolean readOnly, String format, boolean directIo) {

    public static final OpenOptions DEFAULT = new OpenOptions(false, null, false);

    public static OpenOptions readOnlyOptions() {
        return new OpenOptions(true, null, false);
    }

    public OpenOptions withReadOnly(boolean ro) {
        return new OpenOptions(ro, format, directIo);
    }

    public OpenOptions withFormat(String f) {
        return new OpenOptions(readOnly, f, directIo);
    }

    public OpenOptions withDirectIo(boolean d) {
        return new OpenOptions(readOnly, format, d);
    }
}
