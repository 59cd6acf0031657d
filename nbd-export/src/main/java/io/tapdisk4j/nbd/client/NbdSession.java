package io.tapdisk4j.nbd.client;

import io.tapdisk4j.nbd.NbdProtocol;

import java.util.Map;

/**
 * What negotiation agreed on for one connection: the export's size and transmission flags, whether
 * structured replies are on, the meta contexts the server selected (name to the id its block status
 * replies carry; ids are per connection), and the server's block sizes.
 */
public record NbdSession(long size, int transmissionFlags, boolean structuredReplies, Map<String, Integer> metaContexts,
                         int minimumBlock, int preferredBlock, int maximumPayload) {

    public NbdSession {
        metaContexts = Map.copyOf(metaContexts);
    }

    public boolean has(int transmissionFlag) {
        return (transmissionFlags & transmissionFlag) != 0;
    }

    /** The id (u32) of meta context {@code name} on this connection, -1 when the server did not select it. */
    public long contextId(String name) {
        Integer id = metaContexts.get(name);
        return id == null ? -1 : Integer.toUnsignedLong(id);
    }

    public boolean hasContext(String name) {
        return metaContexts.containsKey(name);
    }

    /** Whether the server reports holes and zeroes (base:allocation; qemu names it with id 0). */
    public boolean hasAllocation() {
        return hasContext(NbdProtocol.BASE_ALLOCATION);
    }
}
