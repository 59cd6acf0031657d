package io.tapdisk4j.iscsi.target.scsi;

import io.tapdisk4j.block.BlockDeviceException;

import java.util.concurrent.CompletionException;

/** The sense a device failure becomes (SPC-4 annex D): what the initiator can act on. */
final class DeviceErrors {

    private DeviceErrors() {
    }

    static ScsiException toScsi(Throwable t, boolean write) {
        Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        if (cause instanceof ScsiException s) {
            return s;
        }
        String what = String.valueOf(cause.getMessage());
        return switch (BlockDeviceException.errorOf(cause)) {
            case EINVAL, EOVERFLOW -> new ScsiException(Sense.ILLEGAL_REQUEST, 0x21, 0x00, what);
            case EROFS, EPERM, EACCES -> ScsiException.writeProtected();
            case ENOSPC, EDQUOT -> new ScsiException(Sense.DATA_PROTECT, 0x27, 0x07, "space allocation failed: " + what);
            case ENOTSUP -> ScsiException.invalidFieldInCdb(what);
            default -> write ? ScsiException.writeError(what) : ScsiException.mediumError(what);
        };
    }
}
