package io.tapdisk4j.nbd.server;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.nbd.NbdProtocol;

import java.util.Objects;

/** One exported device: its NBD name, an optional description, and whether clients may write. */
public record NbdExport(String name, String description, BlockDevice device, boolean readOnly) {

    public NbdExport {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(device, "device");
        if (name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > NbdProtocol.MAX_STRING) {
            throw new IllegalArgumentException("export name longer than " + NbdProtocol.MAX_STRING + " bytes");
        }
    }

    public boolean writable() {
        return !readOnly && !device.has(Capability.READ_ONLY);
    }

    /** The transmission flags this export advertises. */
    public int transmissionFlags() {
        int f = NbdProtocol.TF_HAS_FLAGS | NbdProtocol.TF_SEND_DF | NbdProtocol.TF_SEND_CACHE;
        if (!writable()) {
            f |= NbdProtocol.TF_READ_ONLY;
        } else {
            // FLUSH and FUA are always accepted: a device without them has nothing volatile to flush.
            f |= NbdProtocol.TF_SEND_FLUSH | NbdProtocol.TF_SEND_FUA | NbdProtocol.TF_SEND_WRITE_ZEROES
                    | NbdProtocol.TF_SEND_FAST_ZERO;
            if (device.has(Capability.DISCARD)) {
                f |= NbdProtocol.TF_SEND_TRIM;
            }
        }
        if (device.has(Capability.MULTI_HANDLE_CONSISTENT)) {
            f |= NbdProtocol.TF_CAN_MULTI_CONN;
        }
        return f;
    }
}
