package io.tapdisk4j.iscsi.session;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.iscsi.scsi.Cdb;
import io.tapdisk4j.iscsi.scsi.ScsiStatus;
import io.tapdisk4j.iscsi.scsi.Sense;

/** A SCSI command that ended with a status other than GOOD, mapped to the {@link BlockError} a frontend reports. */
public final class ScsiCommandException extends BlockDeviceException {

    private final int status;
    private final Sense sense;

    public ScsiCommandException(int opcode, int status, Sense sense) {
        super(errorOf(status, sense), Cdb.name(opcode) + " failed: " + ScsiStatus.name(status)
                + (status == ScsiStatus.CHECK_CONDITION ? " (" + sense + ")" : ""));
        this.status = status;
        this.sense = sense;
    }

    public int status() {
        return status;
    }

    public Sense sense() {
        return sense;
    }

    static BlockError errorOf(int status, Sense sense) {
        if (status == ScsiStatus.RESERVATION_CONFLICT) {
            return BlockError.EACCES;
        }
        if (status != ScsiStatus.CHECK_CONDITION) {
            return BlockError.EIO;
        }
        if (sense.lbaOutOfRange()) {
            return BlockError.EINVAL;
        }
        if (sense.unsupportedCommand()) {
            return BlockError.ENOTSUP;
        }
        return switch (sense.key()) {
            case Sense.DATA_PROTECT -> BlockError.EROFS;
            case Sense.ILLEGAL_REQUEST -> BlockError.EINVAL;
            case 0xd -> BlockError.ENOSPC;
            default -> BlockError.EIO;
        };
    }
}
