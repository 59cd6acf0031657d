package io.tapdisk4j.iscsi.login;

import io.tapdisk4j.iscsi.text.Chap;

/**
 * The outcome of a login: negotiated operational values (RFC 7143 13) and the sequence numbers the full
 * feature phase starts from.
 *
 * @param maxXmitDataSegmentLength the target's MaxRecvDataSegmentLength: the largest data segment we send
 * @param maxRecvDataSegmentLength ours: the largest the target sends
 * @param chapAlgorithm            the CHAP algorithm the target chose, null without CHAP
 */
public record SessionParameters(boolean headerDigest, boolean dataDigest, int maxXmitDataSegmentLength,
                                int maxRecvDataSegmentLength, int maxBurstLength, int firstBurstLength,
                                boolean immediateData, boolean initialR2T, int maxOutstandingR2T,
                                boolean dataPduInOrder, boolean dataSequenceInOrder, int errorRecoveryLevel,
                                int tsih, int cmdSN, int maxCmdSN, int expStatSN, String targetAlias,
                                Chap.Algorithm chapAlgorithm) {
}
