package io.tapdisk4j.nfs.v3;

import io.tapdisk4j.block.BlockDeviceException;

/** An NFSv3 procedure that returned an error status. */
public final class Nfs3Exception extends BlockDeviceException {

    private final int status;

    public Nfs3Exception(int status, String what) {
        super(Nfs3Status.error(status), what + ": " + Nfs3Status.name(status));
        this.status = status;
    }

    public int status() {
        return status;
    }

    /** Throws unless {@code status} is NFS3_OK. */
    public static void check(int status, String what) throws Nfs3Exception {
        if (status != Nfs3Status.OK) {
            throw new Nfs3Exception(status, what);
        }
    }
}
