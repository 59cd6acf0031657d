package io.tapdisk4j.iscsi.target;

/**
 * The outcome of operational negotiation (RFC 7143 13), starting from the standard's defaults. Written
 * while a login runs, read-only afterwards.
 */
final class NegotiatedParameters {

    boolean headerDigest;
    boolean dataDigest;
    boolean initialR2T = true;
    boolean immediateData = true;
    /** The initiator's declaration: the largest data segment we may send it. */
    int initiatorMaxRecvDataSegment = 8192;
    int maxBurst = 262144;
    int firstBurst = 65536;
    int maxOutstandingR2T = 1;
    int defaultTime2Wait = 2;
    int defaultTime2Retain = 20;
    boolean discovery;
    String initiatorName;
    String initiatorAlias;
}
