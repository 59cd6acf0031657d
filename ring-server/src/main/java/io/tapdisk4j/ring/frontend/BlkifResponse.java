package io.tapdisk4j.ring.frontend;

import io.tapdisk4j.ring.blkif.Blkif;

/** A response as the frontend read it off the ring. */
public record BlkifResponse(long id, int operation, short status) {

    public boolean ok() {
        return status == Blkif.RSP_OKAY;
    }
}
