package io.tapdisk4j.ring.hv;

import java.io.IOException;

/** A hypervisor operation that failed as a whole (a device that cannot be opened, an ioctl error). */
public class HypervisorException extends IOException {
    public HypervisorException(String message) {
        super(message);
    }

    public HypervisorException(String message, Throwable cause) {
        super(message, cause);
    }
}
