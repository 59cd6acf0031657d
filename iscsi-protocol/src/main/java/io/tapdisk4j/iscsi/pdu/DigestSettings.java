package io.tapdisk4j.iscsi.pdu;

/**
 * What the codec of one connection checks and adds: the digests negotiated at login (off until the login
 * completes) and the largest data segment the initiator declared it accepts. Changed only on the
 * connection's event loop, between PDUs.
 */
public final class DigestSettings {

    /** Data segments during login are limited to 8192 bytes (RFC 7143 13.12); this leaves room for larger declarations. */
    public static final int DEFAULT_MAX_RECV_DATA_SEGMENT = 262144;

    private volatile boolean headerDigest;
    private volatile boolean dataDigest;
    private volatile int maxRecvDataSegmentLength = DEFAULT_MAX_RECV_DATA_SEGMENT;

    public boolean headerDigest() {
        return headerDigest;
    }

    public boolean dataDigest() {
        return dataDigest;
    }

    public int maxRecvDataSegmentLength() {
        return maxRecvDataSegmentLength;
    }

    /** The bytes a PDU takes on the wire under these settings: header, AHS, header digest, data, padding, data digest. */
    public int wireLength(int ahsLength, int dataLength) {
        return Pdu.BHS_LENGTH + ahsLength + (headerDigest ? 4 : 0) + dataLength + Digests.padding(dataLength)
                + (dataDigest && dataLength > 0 ? 4 : 0);
    }

    public void headerDigest(boolean on) {
        headerDigest = on;
    }

    public void dataDigest(boolean on) {
        dataDigest = on;
    }

    public void maxRecvDataSegmentLength(int bytes) {
        if (bytes < 512 || bytes > 16777215) {
            throw new IllegalArgumentException("MaxRecvDataSegmentLength out of range: " + bytes);
        }
        maxRecvDataSegmentLength = bytes;
    }
}
