package io.tapdisk4j.iscsi.target;

import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.text.Chap;
import io.tapdisk4j.iscsi.text.LoginException;
import io.tapdisk4j.iscsi.text.TextParameters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static io.tapdisk4j.iscsi.target.LoginPdus.login;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(30)
class TargetLoginNegotiatorTest {

    static final String IQN = "iqn.2026-12.io.tapdisk4j.test:disk";

    private static TargetLoginNegotiator.Answer send(TargetLoginNegotiator n, Pdu p) throws LoginException {
        try {
            return n.handle(p);
        } finally {
            p.release();
        }
    }

    private static TextParameters normal() {
        return new TextParameters().add("InitiatorName", LoginPdus.INITIATOR).add("TargetName", IQN)
                .add("SessionType", "Normal").add("AuthMethod", "None");
    }

    @Test
    void normalLoginNegotiatesWithinTheTargetsLimits() throws Exception {
        TargetLoginNegotiator n = new TargetLoginNegotiator(IscsiTargetConfig.of(IQN));
        TargetLoginNegotiator.Answer a = send(n, login(true, 0, 1, 7, 0, normal()));
        assertEquals("None", a.text().get("AuthMethod"));
        assertEquals("1", a.text().get("TargetPortalGroupTag"));
        assertEquals(0x81, a.flags()); // T, CSG 0, NSG 1
        assertFalse(a.fullFeature());
        TextParameters ops = new TextParameters().add("HeaderDigest", "CRC32C,None").add("DataDigest", "None")
                .add("MaxBurstLength", "16776192").add("FirstBurstLength", "262144").add("InitialR2T", "No")
                .add("ImmediateData", "Yes").add("MaxRecvDataSegmentLength", "65536").add("ErrorRecoveryLevel", "2")
                .add("X-com.example.Unknown", "1").add("MaxConnections", "8");
        a = send(n, login(true, 1, 3, 7, 1, ops));
        assertTrue(a.fullFeature());
        assertEquals(0x87, a.flags());
        assertEquals("CRC32C", a.text().get("HeaderDigest"));
        assertEquals("None", a.text().get("DataDigest"));
        assertEquals(Integer.toString(1 << 20), a.text().get("MaxBurstLength"));
        assertEquals("262144", a.text().get("FirstBurstLength"));
        assertEquals("No", a.text().get("InitialR2T"));
        assertEquals("0", a.text().get("ErrorRecoveryLevel"));
        assertEquals("1", a.text().get("MaxConnections"));
        assertEquals("NotUnderstood", a.text().get("X-com.example.Unknown"));
        assertEquals("262144", a.text().get("MaxRecvDataSegmentLength"));
        NegotiatedParameters p = n.parameters();
        assertTrue(p.headerDigest);
        assertEquals(65536, p.initiatorMaxRecvDataSegment);
        assertEquals(7, n.initialCmdSN());
    }

    @Test
    void unknownTargetAndMissingNamesAreRefusedWithTheirStatus() {
        TargetLoginNegotiator n = new TargetLoginNegotiator(IscsiTargetConfig.of(IQN));
        TextParameters t = new TextParameters().add("InitiatorName", LoginPdus.INITIATOR)
                .add("TargetName", "iqn.2026-12.other:disk");
        LoginException e = assertThrows(LoginException.class, () -> send(n, login(true, 0, 1, 0, 0, t)));
        assertEquals(2, e.statusClass());
        assertEquals(3, e.statusDetail());
        TargetLoginNegotiator m = new TargetLoginNegotiator(IscsiTargetConfig.of(IQN));
        e = assertThrows(LoginException.class,
                () -> send(m, login(true, 0, 1, 0, 0, new TextParameters().add("TargetName", IQN))));
        assertEquals(7, e.statusDetail());
    }

    @Test
    void mutualChapAuthenticatesBothWays() throws Exception {
        IscsiTargetConfig c = IscsiTargetConfig.of(IQN).withChap("alice", "secret-of-alice")
                .withMutualChap("target", "secret-of-target");
        TargetLoginNegotiator n = new TargetLoginNegotiator(c);
        TextParameters t = normal();
        t.pairs().removeIf(e -> e.getKey().equals("AuthMethod"));
        t.add("AuthMethod", "CHAP,None");
        TargetLoginNegotiator.Answer a = send(n, login(true, 0, 1, 0, 0, t));
        assertEquals("CHAP", a.text().get("AuthMethod"));
        assertFalse(a.fullFeature());
        a = send(n, login(true, 0, 1, 0, 1, new TextParameters().add("CHAP_A", "7,5")));
        assertEquals("7", a.text().get("CHAP_A"));
        assertEquals(0, a.flags() & 0x80, "no transition before the response is checked");
        int id = Integer.parseInt(a.text().get("CHAP_I"));
        byte[] challenge = Chap.decodeBinary(a.text().get("CHAP_C"));
        byte[] response = Chap.response(Chap.Algorithm.SHA_256, id, "secret-of-alice", challenge);
        byte[] ours = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        a = send(n, login(true, 0, 1, 0, 2, new TextParameters().add("CHAP_N", "alice")
                .add("CHAP_R", Chap.encodeHex(response)).add("CHAP_I", "77").add("CHAP_C", Chap.encodeHex(ours))));
        assertEquals(0x81, a.flags());
        assertEquals("target", a.text().get("CHAP_N"));
        assertEquals(Chap.encodeHex(Chap.response(Chap.Algorithm.SHA_256, 77, "secret-of-target", ours)),
                a.text().get("CHAP_R"));
    }

    @Test
    void aWrongChapResponseIsAnAuthenticationFailure() throws Exception {
        TargetLoginNegotiator n = new TargetLoginNegotiator(IscsiTargetConfig.of(IQN).withChap("alice", "right"));
        TextParameters t = normal();
        t.pairs().removeIf(e -> e.getKey().equals("AuthMethod"));
        t.add("AuthMethod", "CHAP");
        send(n, login(false, 0, 0, 0, 0, t));
        TargetLoginNegotiator.Answer a = send(n, login(false, 0, 0, 0, 1, new TextParameters().add("CHAP_A", "5")));
        int id = Integer.parseInt(a.text().get("CHAP_I"));
        byte[] wrong = Chap.response(Chap.Algorithm.MD5, id, "wrong", Chap.decodeBinary(a.text().get("CHAP_C")));
        LoginException e = assertThrows(LoginException.class, () -> send(n, login(true, 0, 1, 0, 2,
                new TextParameters().add("CHAP_N", "alice").add("CHAP_R", Chap.encodeHex(wrong)))));
        assertEquals(2, e.statusClass());
        assertEquals(1, e.statusDetail());
    }

    @Test
    void skippingAuthenticationIsRefusedWhenChapIsRequired() {
        TargetLoginNegotiator n = new TargetLoginNegotiator(IscsiTargetConfig.of(IQN).withChap("alice", "right"));
        LoginException e = assertThrows(LoginException.class, () -> send(n, login(true, 1, 3, 0, 0, normal())));
        assertEquals(1, e.statusDetail());
    }

    @Test
    void discoveryNeedsNoTargetNameAndAnswersBurstKeysIrrelevant() throws Exception {
        TargetLoginNegotiator n = new TargetLoginNegotiator(IscsiTargetConfig.of(IQN));
        TargetLoginNegotiator.Answer a = send(n, login(true, 1, 3, 0, 0, new TextParameters()
                .add("InitiatorName", LoginPdus.INITIATOR).add("SessionType", "Discovery")
                .add("MaxBurstLength", "262144")));
        assertTrue(a.fullFeature());
        assertTrue(n.parameters().discovery);
        assertEquals("Irrelevant", a.text().get("MaxBurstLength"));
        assertNotNull(a.text());
    }

    @Test
    void defaultNamesAreStableAndValid() {
        String a = IscsiTargetConfig.defaultName("file:///srv/sr/disk 1.raw");
        assertEquals(a, IscsiTargetConfig.defaultName("file:///srv/sr/disk 1.raw"));
        IscsiTargetConfig.of(a);
        assertFalse(a.equals(IscsiTargetConfig.defaultName("file:///srv/sr/disk 2.raw")));
    }
}
