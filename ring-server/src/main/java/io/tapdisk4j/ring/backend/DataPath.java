package io.tapdisk4j.ring.backend;

import java.util.Locale;

/** How request payloads move between guest pages and dom0; selectable per device. */
public enum DataPath {
    /** Grant copy into pooled dom0 buffers (the default; as tapdisk3 and QEMU). */
    COPY("copy"),
    /** Map each granted page, copy, unmap (the tapdisk2/blktap2 path). */
    MAP_COPY("map-copy"),
    /**
     * Persistent grants (as blkback and QEMU qdisk): pages the frontend grants persistently stay mapped
     * for the life of the ring and payloads are copied from/to those mappings. Used only when the frontend
     * also announces {@code feature-persistent}; otherwise the ring falls back to {@link #COPY}.
     */
    PERSISTENT("persistent"),
    /**
     * Zero copy for writes: the mapped guest pages themselves are handed to the device, so a guest can
     * change data after it was validated or checksummed. Exists only for the safety suite and benchmarks;
     * needs {@link BackendSpec#allowUnsafe()} and logs a warning. A write is answered when the device
     * completes it, and a device may keep the buffer (so the mapping) longer, as network backends do until
     * the server's reply or COMMIT: Linux blkfront without persistent grants then finds a grant still
     * mapped when it ends access and disables the disk. Against real guests use it only over devices that
     * let go of a write's buffer when it completes (file, memory, null).
     */
    UNSAFE_MAP("unsafe-map");

    private final String cliName;

    DataPath(String cliName) {
        this.cliName = cliName;
    }

    /** The name used on the command line and in xenstore/config: copy, map-copy, persistent, unsafe-map. */
    public String cliName() {
        return cliName;
    }

    public static DataPath parse(String name) {
        String n = name.toLowerCase(Locale.ROOT).replace('_', '-');
        for (DataPath p : values()) {
            if (p.cliName.equals(n)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown data path '" + name + "' (copy, map-copy, persistent, unsafe-map)");
    }
}
