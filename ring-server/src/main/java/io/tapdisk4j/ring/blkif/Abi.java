package io.tapdisk4j.ring.blkif;

import static io.tapdisk4j.ring.blkif.BlkifLayout.*;

/**
 * The blkif protocol variants a frontend names in its {@code protocol} xenstore key. Each knows its struct
 * layout ({@link BlkifLayout}) and its codec.
 */
public enum Abi {
    X86_64("x86_64-abi", X86_64_REQUEST_SIZE, X86_64_RESPONSE_SIZE, X86_64_RING_ENTRY_SIZE,
            new BlkifCodec(X86_64_REQUEST_SIZE, X86_64_REQUEST_ID, X86_64_REQUEST_SECTOR_NUMBER, X86_64_REQUEST_SEG,
                    X86_64_DISCARD_NR_SECTORS, X86_64_INDIRECT_NR_SEGMENTS, X86_64_INDIRECT_HANDLE,
                    X86_64_INDIRECT_INDIRECT_GREFS, X86_64_RESPONSE_SIZE)),
    X86_32("x86_32-abi", X86_32_REQUEST_SIZE, X86_32_RESPONSE_SIZE, X86_32_RING_ENTRY_SIZE,
            new BlkifCodec(X86_32_REQUEST_SIZE, X86_32_REQUEST_ID, X86_32_REQUEST_SECTOR_NUMBER, X86_32_REQUEST_SEG,
                    X86_32_DISCARD_NR_SECTORS, X86_32_INDIRECT_NR_SEGMENTS, X86_32_INDIRECT_HANDLE,
                    X86_32_INDIRECT_INDIRECT_GREFS, X86_32_RESPONSE_SIZE));

    private final String protocol;
    private final int requestSize;
    private final int responseSize;
    private final int entrySize;
    private final BlkifCodec codec;

    Abi(String protocol, int requestSize, int responseSize, int entrySize, BlkifCodec codec) {
        this.protocol = protocol;
        this.requestSize = requestSize;
        this.responseSize = responseSize;
        this.entrySize = entrySize;
        this.codec = codec;
    }

    /** The xenstore {@code protocol} value. */
    public String protocol() {
        return protocol;
    }

    public int requestSize() {
        return requestSize;
    }

    public int responseSize() {
        return responseSize;
    }

    /** sizeof the ring entry union (request or response). */
    public int entrySize() {
        return entrySize;
    }

    public BlkifCodec codec() {
        return codec;
    }

    /** The ABI a {@code protocol} key names; a missing key means the backend's native ABI (x86_64). */
    public static Abi fromProtocol(String protocol) {
        if (protocol == null || protocol.isEmpty()) {
            return X86_64;
        }
        for (Abi a : values()) {
            if (a.protocol.equals(protocol)) {
                return a;
            }
        }
        throw new IllegalArgumentException("unknown blkif protocol '" + protocol + "' (known: x86_64-abi, x86_32-abi)");
    }
}
