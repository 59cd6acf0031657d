package io.tapdisk4j.nbd;

/** The client's 32-bit answer to the greeting (FIXED_NEWSTYLE, NO_ZEROES). */
public record NbdClientFlags(int flags) {

    public boolean noZeroes() {
        return (flags & NbdProtocol.FLAG_NO_ZEROES) != 0;
    }
}
