package io.tapdisk4j.iscsi.target;

import io.tapdisk4j.iscsi.text.TextParameters;

import java.util.Map;

/**
 * The target's side of operational key negotiation (RFC 7143 6.2, 13): answers each key the initiator
 * offers by the key's rule (list, min, max, and, or, declarative) within the target's limits, and records
 * the result. Keys it does not know are answered NotUnderstood; out-of-range values Reject.
 */
final class OperationalKeys {

    private final IscsiTargetConfig config;
    private final NegotiatedParameters params;
    private boolean declared;

    OperationalKeys(IscsiTargetConfig config, NegotiatedParameters params) {
        this.config = config;
        this.params = params;
    }

    /** Answers the operational keys in {@code offered} (security and login keys are left to the caller). */
    void answer(TextParameters offered, TextParameters answers) {
        for (Map.Entry<String, String> e : offered.pairs()) {
            String key = e.getKey();
            String value = e.getValue();
            if (value.equals("NotUnderstood") || value.equals("Irrelevant") || value.equals("Reject")) {
                continue;
            }
            switch (key) {
                case "InitiatorName", "TargetName", "SessionType", "AuthMethod", "TargetAlias", "TargetAddress",
                     "TargetPortalGroupTag", "CHAP_A", "CHAP_I", "CHAP_C", "CHAP_N", "CHAP_R" -> {
                }
                case "InitiatorAlias" -> params.initiatorAlias = value;
                case "HeaderDigest" -> {
                    String d = digest(value);
                    params.headerDigest = d.equals("CRC32C");
                    answers.add(key, d);
                }
                case "DataDigest" -> {
                    String d = digest(value);
                    params.dataDigest = d.equals("CRC32C") && !params.discovery;
                    answers.add(key, params.discovery ? "None" : d);
                }
                case "MaxRecvDataSegmentLength" -> {
                    Integer n = number(value, 512, 16777215);
                    if (n == null) {
                        answers.add(key, "Reject");
                    } else {
                        params.initiatorMaxRecvDataSegment = n;
                    }
                }
                case "MaxConnections" -> answerNumber(key, value, 1, 65535, answers, n -> 1);
                case "ErrorRecoveryLevel" -> answerNumber(key, value, 0, 2, answers, n -> 0);
                case "DefaultTime2Wait" -> answerNumber(key, value, 0, 3600, answers,
                        n -> params.defaultTime2Wait = Math.max(n, 2));
                case "DefaultTime2Retain" -> answerNumber(key, value, 0, 3600, answers,
                        n -> params.defaultTime2Retain = Math.min(n, 20));
                case "MaxOutstandingR2T" -> answerNumber(key, value, 1, 65535, answers,
                        n -> params.maxOutstandingR2T = 1);
                case "MaxBurstLength" -> {
                    if (params.discovery) {
                        answers.add(key, "Irrelevant");
                    } else {
                        answerNumber(key, value, 512, 16777215, answers,
                                n -> params.maxBurst = Math.min(n, config.maxBurst()));
                    }
                }
                case "FirstBurstLength" -> {
                    if (params.discovery) {
                        answers.add(key, "Irrelevant");
                    } else {
                        answerNumber(key, value, 512, 16777215, answers,
                                n -> params.firstBurst = Math.min(n, config.firstBurst()));
                    }
                }
                case "InitialR2T" -> answerBoolean(key, value, answers, b -> params.initialR2T = b);
                case "ImmediateData" -> answerBoolean(key, value, answers, b -> params.immediateData = b);
                case "DataPDUInOrder", "DataSequenceInOrder" -> answerBoolean(key, value, answers, b -> true);
                case "IFMarker", "OFMarker" -> answers.add(key, "No");
                case "IFMarkInt", "OFMarkInt" -> answers.add(key, "Irrelevant");
                case "TaskReporting" -> answers.add(key, "RFC3720");
                default -> answers.add(key, "NotUnderstood");
            }
        }
        if (params.firstBurst > params.maxBurst) {
            params.firstBurst = params.maxBurst;
        }
    }

    /** The target's declarations, once per login: its MaxRecvDataSegmentLength. */
    void declare(TextParameters answers) {
        if (!declared && !params.discovery) {
            answers.add("MaxRecvDataSegmentLength", Integer.toString(config.maxRecvDataSegment()));
            declared = true;
        }
    }

    private static String digest(String offered) {
        for (String v : offered.split(",")) {
            String t = v.trim();
            if (t.equals("CRC32C") || t.equals("None")) {
                return t;
            }
        }
        return "Reject";
    }

    private static Integer number(String value, long min, long max) {
        try {
            long n = Long.parseLong(value.trim());
            return n < min || n > max ? null : (int) n;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private interface IntRule {
        int apply(int offered);
    }

    private interface BoolRule {
        boolean apply(boolean offered);
    }

    private static void answerNumber(String key, String value, long min, long max, TextParameters answers, IntRule rule) {
        Integer n = number(value, min, max);
        answers.add(key, n == null ? "Reject" : Integer.toString(rule.apply(n)));
    }

    private static void answerBoolean(String key, String value, TextParameters answers, BoolRule rule) {
        if (!value.equals("Yes") && !value.equals("No")) {
            answers.add(key, "Reject");
            return;
        }
        answers.add(key, rule.apply(value.equals("Yes")) ? "Yes" : "No");
    }
}
