package io.tapdisk4j.block;

/**
 * How to open a device. {@code format}: "raw", "vhd", or null to probe (formats are layered over the
 * transport the URI names). {@code untracked}: writes through this open are not changes of the image's
 * contents (coalesce copies into a parent what it already holds logically), so its changed-block log,
 * frozen with a snapshot, is left alone.
 */
public record OpenOptions(boolean readOnly, String format, boolean directIo, boolean untracked) {

    public static final OpenOptions DEFAULT = new OpenOptions(false, null, false, false);

    public static OpenOptions readOnlyOptions() {
        return new OpenOptions(true, null, false, false);
    }

    public OpenOptions withReadOnly(boolean ro) {
        return new OpenOptions(ro, format, directIo, untracked);
    }

    public OpenOptions withFormat(String f) {
        return new OpenOptions(readOnly, f, directIo, untracked);
    }

    public OpenOptions withDirectIo(boolean d) {
        return new OpenOptions(readOnly, format, d, untracked);
    }

    public OpenOptions withUntracked(boolean u) {
        return new OpenOptions(readOnly, format, directIo, u);
    }
}
