package io.tapdisk4j.vhd;

import java.time.Instant;

/** VHD time stamps: seconds since 2000-01-01 00:00:00 UTC, unsigned 32 bits. */
final class VhdTime {

    static final long EPOCH_2000 = 946_684_800L;

    private VhdTime() {
    }

    static int now() {
        return (int) (Instant.now().getEpochSecond() - EPOCH_2000);
    }

    static Instant toInstant(int stamp) {
        return Instant.ofEpochSecond(EPOCH_2000 + Integer.toUnsignedLong(stamp));
    }
}
