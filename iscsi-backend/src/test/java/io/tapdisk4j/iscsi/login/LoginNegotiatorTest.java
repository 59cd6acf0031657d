package io.tapdisk4j.iscsi.login;

import io.tapdisk4j.iscsi.text.LoginException;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The login state machine fed hostile or odd Login Responses directly (the tgtd tests cover the normal paths). */
class LoginNegotiatorTest {

    static LoginNegotiator negotiator(Credentials c) {
        LoginNegotiator n = new LoginNegotiator(LoginConfig.normal("iqn.t:x", c), LoginNegotiator.randomIsid(), 0, 1, 1,
                UnpooledByteBufAllocator.DEFAULT);
        n.firstRequest().release();
        return n;
    }

    static Pdu response(int csg, int nsg, boolean transit, boolean cont, String text) {
        Pdu p = Pdu.of(Opcode.LOGIN_RESPONSE, false, Unpooled.wrappedBuffer(text.getBytes(StandardCharsets.UTF_8)));
        p.flags((transit ? 0x80 : 0) | (cont ? 0x40 : 0) | (csg << 2) | nsg);
        p.intAt(24, 5).intAt(28, 1).intAt(32, 10).shortAt(14, 7);
        return p;
    }

    static LoginNegotiator.Step feed(LoginNegotiator n, Pdu p) throws LoginException {
        try {
            LoginNegotiator.Step s = n.onResponse(p);
            if (s instanceof LoginNegotiator.Next next) {
                next.request().release();
            }
            return s;
        } finally {
            p.release();
        }
    }

    /** Security stage done (AuthMethod=None), operational offer sent. */
    static LoginNegotiator atOperational() throws LoginException {
        LoginNegotiator n = negotiator(Credentials.NONE);
        feed(n, response(0, 1, true, false, "AuthMethod=None\0"));
        return n;
    }

    @Test
    void normalLoginProducesParameters() throws Exception {
        LoginNegotiator n = atOperational();
        LoginNegotiator.Step s = feed(n, response(1, 3, true, false,
                "MaxRecvDataSegmentLength=65536\0MaxBurstLength=1048576\0FirstBurstLength=131072\0ImmediateData=Yes\0"
                        + "InitialR2T=No\0HeaderDigest=None\0DataDigest=None\0TargetAlias=disk\0"));
        SessionParameters p = assertInstanceOf(LoginNegotiator.Done.class, s).parameters();
        assertEquals(65536, p.maxXmitDataSegmentLength());
        assertEquals(1048576, p.maxBurstLength());
        assertEquals(131072, p.firstBurstLength());
        assertTrue(p.immediateData());
        assertFalse(p.initialR2T());
        assertEquals(7, p.tsih());
        assertEquals(6, p.expStatSN());
        assertEquals("disk", p.targetAlias());
    }

    @Test
    void refusalCarriesTheStatus() {
        LoginNegotiator n = negotiator(Credentials.NONE);
        Pdu p = response(0, 1, false, false, "");
        p.byteAt(36, 2).byteAt(37, 3);
        LoginException e = assertThrows(LoginException.class, () -> feed(n, p));
        assertEquals(2, e.statusClass());
        assertTrue(e.getMessage().contains("target not found"), e.getMessage());
    }

    @Test
    void hostileResponses() throws Exception {
        assertThrows(LoginException.class, () -> feed(negotiator(Credentials.NONE), response(1, 3, true, false, "")),
                "answer for a stage we are not in");
        assertThrows(LoginException.class, () -> feed(negotiator(Credentials.NONE),
                response(0, 1, true, false, "AuthMethod=KRB5\0")));
        assertThrows(LoginException.class, () -> feed(negotiator(Credentials.NONE),
                response(0, 1, true, false, "AuthMethod=CHAP\0")), "CHAP demanded without credentials");
        assertThrows(LoginException.class, () -> feed(atOperational(), response(1, 3, true, false, "HeaderDigest=CRC32C\0")),
                "digest not offered");
        assertThrows(LoginException.class, () -> feed(atOperational(), response(1, 3, true, false, "MaxRecvDataSegmentLength=1\0")));
        assertThrows(LoginException.class, () -> feed(atOperational(), response(1, 3, true, false, "MaxBurstLength=lots\0")));
        assertThrows(LoginException.class, () -> feed(atOperational(), response(1, 3, true, false, "DataPDUInOrder=No\0")));
        assertThrows(LoginException.class, () -> feed(atOperational(), response(1, 3, true, false, "ImmediateData=Maybe\0")));
        assertThrows(LoginException.class, () -> feed(atOperational(), response(1, 3, true, false, "broken")));
        Pdu notLogin = Pdu.of(Opcode.NOP_IN, false, null);
        assertThrows(LoginException.class, () -> feed(negotiator(Credentials.NONE), notLogin));
    }

    @Test
    void continuedTextIsGatheredAndBounded() throws Exception {
        LoginNegotiator n = atOperational();
        assertInstanceOf(LoginNegotiator.Next.class, feed(n, response(1, 3, false, true, "MaxRecvDataSegment")));
        LoginNegotiator.Step s = feed(n, response(1, 3, true, false, "Length=16384\0"));
        assertEquals(16384, assertInstanceOf(LoginNegotiator.Done.class, s).parameters().maxXmitDataSegmentLength());
        LoginNegotiator endless = atOperational();
        String chunk = "x".repeat(8000);
        LoginException e = assertThrows(LoginException.class, () -> {
            for (int i = 0; i < 20; i++) {
                feed(endless, response(1, 3, false, true, chunk));
            }
        });
        assertTrue(e.getMessage().contains("64 KiB"), e.getMessage());
    }

    @Test
    void chapChallengesAreChecked() throws Exception {
        LoginNegotiator n = negotiator(Credentials.oneWay("u", "secretsecret"));
        assertInstanceOf(LoginNegotiator.Next.class, feed(n, response(0, 1, false, false, "AuthMethod=CHAP\0")));
        assertThrows(LoginException.class, () -> feed(n, response(0, 1, false, false, "CHAP_A=9\0CHAP_I=1\0CHAP_C=0x0102\0")),
                "unknown algorithm");
        LoginNegotiator m = negotiator(Credentials.oneWay("u", "secretsecret"));
        feed(m, response(0, 1, false, false, "AuthMethod=CHAP\0"));
        assertThrows(LoginException.class, () -> feed(m, response(0, 1, false, false, "CHAP_A=5\0CHAP_I=300\0CHAP_C=0x0102\0")));
        LoginNegotiator k = negotiator(Credentials.oneWay("u", "secretsecret"));
        feed(k, response(0, 1, false, false, "AuthMethod=CHAP\0"));
        assertThrows(LoginException.class, () -> feed(k, response(0, 1, false, false, "CHAP_A=5\0CHAP_I=1\0")), "no challenge");
        LoginNegotiator mutual = negotiator(Credentials.mutual("u", "secretsecret", "t", "targetsecret"));
        assertThrows(LoginException.class, () -> feed(mutual, response(0, 1, true, false, "AuthMethod=None\0")),
                "a target that skips authentication cannot satisfy mutual CHAP");
    }
}
