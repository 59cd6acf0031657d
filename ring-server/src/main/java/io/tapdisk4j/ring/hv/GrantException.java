package io.tapdisk4j.ring.hv;

/** A grant operation refused with a GNTST_* status. */
public class GrantException extends HypervisorException {
    private final int status;

    public GrantException(int status, String message) {
        super(message + " (" + GrantStatus.name(status) + ")");
        this.status = status;
    }

    public int status() {
        return status;
    }
}
