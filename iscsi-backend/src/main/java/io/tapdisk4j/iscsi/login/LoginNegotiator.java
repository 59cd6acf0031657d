package io.tapdisk4j.iscsi.login;

import io.tapdisk4j.iscsi.text.LoginException;
import io.tapdisk4j.iscsi.text.TextParameters;
import io.tapdisk4j.iscsi.text.Chap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The login phase as a state machine (RFC 7143 6.3, 12, 13): security negotiation (AuthMethod None or
 * CHAP, one-way or mutual), then operational negotiation, then the full feature phase. It only builds
 * requests and interprets responses; {@link LoginHandler} moves the PDUs. Not thread safe: one login,
 * one event loop.
 */
public final class LoginNegotiator {

    static final int SECURITY = 0;
    static final int OPERATIONAL = 1;
    static final int FULL_FEATURE = 3;

    private enum ChapStep { NONE, ALGORITHM_SENT, RESPONSE_SENT, DONE }

    private static final SecureRandom RANDOM = new SecureRandom();

    private final LoginConfig config;
    private final byte[] isid;
    private final int cid;
    private final int cmdSN;
    private final ByteBufAllocator alloc;

    private int stage = SECURITY;
    private int expStatSN;
    private boolean firstRequest = true;
    private boolean statSnKnown;
    private ChapStep chap = ChapStep.NONE;
    private Chap.Algorithm chapAlgorithm;
    private int ourChapId;
    private byte[] ourChallenge;
    private boolean operationalSent;
    private byte[] continued = new byte[0];
    private final Map<String, String> operationalAnswers = new HashMap<>();
    private int tsih;
    private String targetAlias;

    public LoginNegotiator(LoginConfig config, byte[] isid, int tsih, int cid, int cmdSN, ByteBufAllocator alloc) {
        if (isid.length != 6) {
            throw new IllegalArgumentException("ISID is 6 bytes");
        }
        this.config = config;
        this.isid = isid.clone();
        this.tsih = tsih;
        this.cid = cid;
        this.cmdSN = cmdSN;
        this.alloc = alloc;
    }

    /** A random-format ISID (RFC 7143 10.12.5, type 11b): kept for the life of the session for reinstatement. */
    public static byte[] randomIsid() {
        byte[] b = new byte[6];
        RANDOM.nextBytes(b);
        b[0] = (byte) (0xc0 | (b[0] & 0x3f));
        return b;
    }

    /** The outcome of one response: the next request to send, or the negotiated parameters. */
    public sealed interface Step permits Next, Done {
    }

    public record Next(Pdu request) implements Step {
    }

    public record Done(SessionParameters parameters) implements Step {
    }

    public Pdu firstRequest() {
        TextParameters t = new TextParameters();
        t.add("InitiatorName", config.initiatorName());
        t.add("SessionType", config.discoverySession() ? "Discovery" : "Normal");
        if (!config.discoverySession()) {
            t.add("TargetName", config.targetName());
        }
        Credentials c = config.credentials();
        if (c.chap()) {
            t.add("AuthMethod", c.mutualChap() ? "CHAP" : "CHAP,None");
            return request(t, false, OPERATIONAL);
        }
        t.add("AuthMethod", "None");
        return request(t, true, OPERATIONAL);
    }

    public Step onResponse(Pdu response) throws LoginException {
        if (response.opcode() != Opcode.LOGIN_RESPONSE) {
            throw new LoginException("expected a Login Response, got " + Opcode.name(response.opcode()));
        }
        int statusClass = response.byteAt(36);
        int statusDetail = response.byteAt(37);
        if (statusClass != 0) {
            // A refusal right after our CHAP response names the algorithm, so that a caller can retry with another.
            Chap.Algorithm refused = chap == ChapStep.RESPONSE_SENT ? chapAlgorithm : null;
            throw new LoginException("login to " + target() + " refused: "
                    + LoginException.describe(statusClass, statusDetail)
                    + (refused == null ? "" : " (after a CHAP response with " + refused.urlName() + ")"),
                    statusClass, statusDetail, refused);
        }
        expStatSN = response.statSN() + 1;
        statSnKnown = true;
        boolean transit = (response.flags() & 0x80) != 0;
        boolean cont = (response.flags() & 0x40) != 0;
        int csg = (response.flags() >> 2) & 3;
        int nsg = response.flags() & 3;
        if (csg != stage) {
            throw new LoginException("target answered for login stage " + csg + " while in stage " + stage);
        }
        byte[] segment = new byte[response.dataLength()];
        response.data().getBytes(response.data().readerIndex(), segment);
        if (cont) {
            // More text follows: ask for it with an empty request (RFC 7143 6.2).
            continued = concat(continued, segment);
            if (continued.length > 65536) {
                throw new LoginException("login text from " + target() + " exceeds 64 KiB");
            }
            return new Next(request(new TextParameters(), false, nsg));
        }
        TextParameters text = TextParameters.decode(concat(continued, segment));
        continued = new byte[0];
        if (stage == SECURITY) {
            return security(text, transit, nsg, response);
        }
        return operational(text, transit, nsg, response);
    }

    private Step security(TextParameters text, boolean transit, int nsg, Pdu response) throws LoginException {
        Credentials c = config.credentials();
        String method = text.get("AuthMethod");
        if (method != null && !method.equals("None") && !method.equals("CHAP")) {
            throw new LoginException("target " + target() + " asks for AuthMethod " + method + ", which is not supported");
        }
        if ("None".equals(method) && c.mutualChap()) {
            throw new LoginException("target " + target() + " did not agree to mutual CHAP", 2, 1);
        }
        if ("CHAP".equals(method) && !c.chap()) {
            throw new LoginException("target " + target() + " requires CHAP but no credentials were given", 2, 1);
        }
        if ("CHAP".equals(method) && chap == ChapStep.NONE) {
            TextParameters t = new TextParameters().add("CHAP_A", Chap.offerList(config.chapAlgorithms()));
            chap = ChapStep.ALGORITHM_SENT;
            return new Next(request(t, false, OPERATIONAL));
        }
        if (chap == ChapStep.ALGORITHM_SENT) {
            return chapResponse(text);
        }
        if (chap == ChapStep.RESPONSE_SENT) {
            if (c.mutualChap()) {
                verifyTarget(text);
            }
            chap = ChapStep.DONE;
        }
        if (transit) {
            if (c.mutualChap() && chap != ChapStep.DONE) {
                throw new LoginException("target " + target() + " left security negotiation without authenticating", 2, 1);
            }
            stage = nsg;
            return enterStage(response);
        }
        // Security negotiation continues without new keys for us: keep asking to move on.
        return new Next(request(new TextParameters(), true, OPERATIONAL));
    }

    private Step chapResponse(TextParameters text) throws LoginException {
        Credentials c = config.credentials();
        String a = text.get("CHAP_A");
        String i = text.get("CHAP_I");
        String challengeText = text.get("CHAP_C");
        if (a != null && (a.equals("Reject") || a.equals("Irrelevant") || a.equals("NotUnderstood"))) {
            throw new LoginException("target " + target() + " accepts none of the CHAP algorithms offered ("
                    + Chap.offerList(config.chapAlgorithms()) + "): CHAP_A=" + a, 2, 1);
        }
        if (a == null || i == null || challengeText == null) {
            throw new LoginException("target " + target() + " sent an incomplete CHAP challenge: " + text);
        }
        Chap.Algorithm algorithm;
        int id;
        try {
            algorithm = Chap.Algorithm.ofCode(Integer.parseInt(a.trim()));
            id = Integer.parseInt(i.trim());
        } catch (NumberFormatException e) {
            throw new LoginException("target " + target() + " sent a malformed CHAP_A/CHAP_I: " + a + "/" + i);
        }
        if (algorithm == null || !config.chapAlgorithms().contains(algorithm)) {
            throw new LoginException("target " + target() + " chose CHAP algorithm " + a + ", which was not offered");
        }
        if (id < 0 || id > 255) {
            throw new LoginException("CHAP_I out of range: " + id);
        }
        byte[] challenge = Chap.decodeBinary(challengeText);
        if (challenge.length == 0 || challenge.length > 1024) {
            throw new LoginException("CHAP challenge of " + challenge.length + " bytes");
        }
        chapAlgorithm = algorithm;
        TextParameters t = new TextParameters();
        t.add("CHAP_N", c.user());
        t.add("CHAP_R", Chap.encodeHex(Chap.response(algorithm, id, c.secret(), challenge)));
        if (c.mutualChap()) {
            ourChapId = RANDOM.nextInt(256);
            // RFC 7143 12.1.3: the challenge length matches the digest length of the chosen algorithm.
            ourChallenge = new byte[Math.max(16, algorithm.digestLength())];
            RANDOM.nextBytes(ourChallenge);
            if (MessageDigest.isEqual(ourChallenge, challenge)) {
                ourChallenge[0] ^= 1;
            }
            t.add("CHAP_I", Integer.toString(ourChapId));
            t.add("CHAP_C", Chap.encodeHex(ourChallenge));
        }
        chap = ChapStep.RESPONSE_SENT;
        return new Next(request(t, true, OPERATIONAL));
    }

    private void verifyTarget(TextParameters text) throws LoginException {
        Credentials c = config.credentials();
        String name = text.get("CHAP_N");
        String r = text.get("CHAP_R");
        if (name == null || r == null) {
            throw new LoginException("target " + target() + " did not answer the mutual CHAP challenge", 2, 1);
        }
        if (!name.equals(c.targetUser())) {
            throw new LoginException("target " + target() + " authenticated as '" + name + "', expected '"
                    + c.targetUser() + "'", 2, 1);
        }
        byte[] expected = Chap.response(chapAlgorithm, ourChapId, c.targetSecret(), ourChallenge);
        if (!MessageDigest.isEqual(expected, Chap.decodeBinary(r))) {
            throw new LoginException("target " + target() + " failed mutual CHAP (wrong target secret)", 2, 1);
        }
    }

    private Step enterStage(Pdu response) throws LoginException {
        if (stage == FULL_FEATURE) {
            return new Done(parameters(response));
        }
        if (stage != OPERATIONAL) {
            throw new LoginException("target moved the login to unknown stage " + stage);
        }
        operationalSent = true;
        return new Next(request(operationalOffer(), true, FULL_FEATURE));
    }

    private Step operational(TextParameters text, boolean transit, int nsg, Pdu response) throws LoginException {
        for (Map.Entry<String, String> e : text.pairs()) {
            operationalAnswers.put(e.getKey(), e.getValue());
        }
        if (text.get("TargetAlias") != null) {
            targetAlias = text.get("TargetAlias");
        }
        if (transit && nsg == FULL_FEATURE) {
            stage = FULL_FEATURE;
            return new Done(parameters(response));
        }
        if (!operationalSent) {
            operationalSent = true;
            return new Next(request(operationalOffer(), true, FULL_FEATURE));
        }
        return new Next(request(new TextParameters(), true, FULL_FEATURE));
    }

    private TextParameters operationalOffer() {
        TextParameters t = new TextParameters();
        t.add("HeaderDigest", config.headerDigest() ? "CRC32C,None" : "None");
        t.add("DataDigest", config.dataDigest() ? "CRC32C,None" : "None");
        t.add("MaxRecvDataSegmentLength", Integer.toString(config.maxRecvDataSegmentLength()));
        if (config.discoverySession()) {
            return t;
        }
        t.add("DefaultTime2Wait", "0");
        t.add("DefaultTime2Retain", "0");
        t.add("ErrorRecoveryLevel", "0");
        t.add("MaxConnections", "1");
        t.add("InitialR2T", config.initialR2T() ? "Yes" : "No");
        t.add("ImmediateData", config.immediateData() ? "Yes" : "No");
        t.add("MaxBurstLength", Integer.toString(config.maxBurstLength()));
        t.add("FirstBurstLength", Integer.toString(config.firstBurstLength()));
        t.add("MaxOutstandingR2T", Integer.toString(config.maxOutstandingR2T()));
        t.add("DataPDUInOrder", "Yes");
        t.add("DataSequenceInOrder", "Yes");
        return t;
    }

    private SessionParameters parameters(Pdu response) throws LoginException {
        Map<String, String> a = operationalAnswers;
        boolean hd = digest(a.get("HeaderDigest"), config.headerDigest(), "HeaderDigest");
        boolean dd = digest(a.get("DataDigest"), config.dataDigest(), "DataDigest");
        int xmit = number(a, "MaxRecvDataSegmentLength", 8192, 512, 16777215);
        int maxBurst = Math.min(config.maxBurstLength(), number(a, "MaxBurstLength", 262144, 512, 16777215));
        int firstBurst = Math.min(config.firstBurstLength(), number(a, "FirstBurstLength", 65536, 512, 16777215));
        firstBurst = Math.min(firstBurst, maxBurst);
        boolean immediate = config.immediateData() && yes(a, "ImmediateData", true);
        boolean initialR2T = config.initialR2T() || yes(a, "InitialR2T", true);
        int maxR2T = Math.min(config.maxOutstandingR2T(), number(a, "MaxOutstandingR2T", 1, 1, 65535));
        boolean pduInOrder = yes(a, "DataPDUInOrder", true);
        boolean seqInOrder = yes(a, "DataSequenceInOrder", true);
        int erl = Math.min(0, number(a, "ErrorRecoveryLevel", 0, 0, 2));
        if (config.discoverySession()) {
            immediate = false;
            initialR2T = true;
        }
        if (!pduInOrder || !seqInOrder) {
            throw new LoginException("target " + target() + " wants out-of-order data (DataPDUInOrder/DataSequenceInOrder=No), unsupported");
        }
        return new SessionParameters(hd, dd, xmit, config.maxRecvDataSegmentLength(), maxBurst, firstBurst,
                immediate, initialR2T, maxR2T, true, true, erl, response.shortAt(14),
                response.expCmdSN(), response.maxCmdSN(), expStatSN, targetAlias, chapAlgorithm);
    }

    private boolean digest(String answer, boolean offered, String key) throws LoginException {
        if (answer == null || answer.equals("None")) {
            return false;
        }
        if (answer.equals("CRC32C") && offered) {
            return true;
        }
        throw new LoginException("target " + target() + " answered " + key + "=" + answer + " to an offer of "
                + (offered ? "CRC32C,None" : "None"));
    }

    private int number(Map<String, String> a, String key, int dflt, int min, int max) throws LoginException {
        String v = a.get(key);
        if (v == null || v.equals("Irrelevant") || v.equals("NotUnderstood")) {
            return dflt;
        }
        try {
            long n = Long.parseLong(v.trim());
            if (n < min || n > max) {
                throw new LoginException("target " + target() + " answered " + key + "=" + v + " (allowed " + min + ".." + max + ")");
            }
            return (int) n;
        } catch (NumberFormatException e) {
            throw new LoginException("target " + target() + " answered " + key + "=" + v + ", not a number");
        }
    }

    private boolean yes(Map<String, String> a, String key, boolean dflt) throws LoginException {
        String v = a.get(key);
        if (v == null || v.equals("Irrelevant") || v.equals("NotUnderstood")) {
            return dflt;
        }
        return switch (v.toLowerCase(Locale.ROOT)) {
            case "yes" -> true;
            case "no" -> false;
            default -> throw new LoginException("target " + target() + " answered " + key + "=" + v);
        };
    }

    private Pdu request(TextParameters text, boolean transit, int nsg) {
        ByteBuf data = text.encode(alloc);
        Pdu p = Pdu.of(Opcode.LOGIN_REQUEST, true, data);
        p.flags((transit ? 0x80 : 0) | (stage << 2) | (transit ? nsg : 0));
        p.byteAt(2, 0).byteAt(3, 0); // Version-max, Version-min
        for (int i = 0; i < 6; i++) {
            p.byteAt(8 + i, isid[i]);
        }
        p.shortAt(14, tsih);
        p.intAt(16, 0); // ITT: one login task per connection
        p.shortAt(20, cid);
        p.intAt(24, cmdSN);
        p.intAt(28, statSnKnown || !firstRequest ? expStatSN : 0);
        firstRequest = false;
        return p;
    }

    private String target() {
        return config.discoverySession() ? "(discovery)" : config.targetName();
    }

    private static byte[] concat(byte[] a, byte[] b) {
        if (a.length == 0) {
            return b;
        }
        byte[] r = new byte[a.length + b.length];
        System.arraycopy(a, 0, r, 0, a.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
