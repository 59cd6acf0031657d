package io.tapdisk4j.nbd.client;

/**
 * What negotiation agreed on for one connection: the export's size and transmission flags, whether
 * structured replies are on, the base:allocation context id (0: none), and the server's block sizes.
 */
public record NbdSession(long size, int transmissionFlags, boolean structuredReplies, int allocationContextId,
                         int minimumBlock, int preferredBlock, int maximumPayload) {

    public boolean has(int transmissionFlag) {
        return (transmissionFlags & transmissionFlag) != 0;
    }
}
