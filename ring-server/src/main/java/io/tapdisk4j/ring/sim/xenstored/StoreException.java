package io.tapdisk4j.ring.sim.xenstored;

import io.tapdisk4j.ring.xenstore.XsError;

/** A request the store refuses; the connection answers it with an ERROR message naming {@link #error}. */
final class StoreException extends Exception {

    final XsError error;

    StoreException(XsError error) {
        super(error.name(), null, false, false);
        this.error = error;
    }
}
