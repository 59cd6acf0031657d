package io.tapdisk4j.iscsi.login;

import io.tapdisk4j.iscsi.text.Chap;
import java.util.List;

/**
 * What the initiator asks for at login. {@code targetName} null means a discovery session. The
 * operational values are the initiator's offers; {@link SessionParameters} holds the outcome.
 * {@code chapAlgorithms}: the CHAP_A offer, in order of preference.
 */
public record LoginConfig(String initiatorName, String targetName, Credentials credentials,
                          boolean headerDigest, boolean dataDigest, int maxRecvDataSegmentLength,
                          int maxBurstLength, int firstBurstLength, boolean immediateData, boolean initialR2T,
                          int maxOutstandingR2T, List<Chap.Algorithm> chapAlgorithms) {

    public static final String DEFAULT_INITIATOR = "iqn.2026-11.io.tapdisk4j:initiator";

    public LoginConfig {
        chapAlgorithms = List.copyOf(chapAlgorithms);
        if (chapAlgorithms.isEmpty()) {
            throw new IllegalArgumentException("at least one CHAP algorithm must be offered");
        }
    }

    /**
     * The data segment size we declare: tgt sends each Data-In sequence in segments of at most this (up to
     * the 24-bit maximum), so 1 MiB reads arrive as one PDU; large segments are read straight into their
     * destination, and anything else the decoder buffers stays bounded by it.
     */
    public static final int DEFAULT_MAX_RECV_DATA_SEGMENT = 1 << 20;

    public static LoginConfig normal(String targetName, Credentials credentials) {
        return new LoginConfig(DEFAULT_INITIATOR, targetName, credentials, false, false, DEFAULT_MAX_RECV_DATA_SEGMENT,
                16776192, 262144, true, false, 1, Chap.DEFAULT_OFFER);
    }

    public static LoginConfig discovery(Credentials credentials) {
        return normal(null, credentials);
    }

    public boolean discoverySession() {
        return targetName == null;
    }

    public LoginConfig withDigests(boolean header, boolean data) {
        return new LoginConfig(initiatorName, targetName, credentials, header, data, maxRecvDataSegmentLength,
                maxBurstLength, firstBurstLength, immediateData, initialR2T, maxOutstandingR2T, chapAlgorithms);
    }

    public LoginConfig withBursts(int maxRecvDataSegment, int maxBurst, int firstBurst, boolean immediate, boolean initialR2t) {
        return new LoginConfig(initiatorName, targetName, credentials, headerDigest, dataDigest, maxRecvDataSegment,
                maxBurst, firstBurst, immediate, initialR2t, maxOutstandingR2T, chapAlgorithms);
    }

    public LoginConfig withInitiatorName(String name) {
        return new LoginConfig(name, targetName, credentials, headerDigest, dataDigest, maxRecvDataSegmentLength,
                maxBurstLength, firstBurstLength, immediateData, initialR2T, maxOutstandingR2T, chapAlgorithms);
    }

    public LoginConfig withChapAlgorithms(List<Chap.Algorithm> offer) {
        return new LoginConfig(initiatorName, targetName, credentials, headerDigest, dataDigest, maxRecvDataSegmentLength,
                maxBurstLength, firstBurstLength, immediateData, initialR2T, maxOutstandingR2T, offer);
    }
}
