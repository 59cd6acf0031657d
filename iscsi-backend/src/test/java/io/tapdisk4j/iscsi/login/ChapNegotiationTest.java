package io.tapdisk4j.iscsi.login;

import io.tapdisk4j.iscsi.text.LoginException;
import io.tapdisk4j.iscsi.text.TextParameters;
import io.tapdisk4j.iscsi.text.Chap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.tapdisk4j.iscsi.pdu.DigestSettings;
import io.tapdisk4j.iscsi.pdu.Opcode;
import io.tapdisk4j.iscsi.pdu.Pdu;
import io.tapdisk4j.iscsi.pdu.PduDecoder;
import io.tapdisk4j.iscsi.pdu.PduEncoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CHAP algorithm negotiation through the real codec and {@link LoginHandler} in an EmbeddedChannel, against a
 * target written here: it picks the algorithm the test tells it to from the initiator's CHAP_A list, checks
 * the response with its own digest code (the JCA names, not {@link Chap}), answers the mutual challenge, or
 * refuses.
 */
class ChapNegotiationTest {

    static final String USER = "alice";
    static final String SECRET = "alicesecret1";
    static final String TARGET_USER = "target";
    static final String TARGET_SECRET = "targetsecret";
    static final Map<String, String> JCA = Map.of("5", "MD5", "6", "SHA-1", "7", "SHA-256", "8", "SHA3-256");

    /** The test's target: one login on one connection. */
    static final class Target {
        final String choice;
        final boolean refuseResponse;
        final String expectedSecret;
        String offered;
        byte[] responseReceived;
        int challengeId = 42;
        byte[] challenge = HexFormat.of().parseHex("0123456789abcdeffedcba98765432100011223344");
        private int statSN = 7;

        Target(String choice, boolean refuseResponse, String expectedSecret) {
            this.choice = choice;
            this.refuseResponse = refuseResponse;
            this.expectedSecret = expectedSecret;
        }

        Pdu answer(Pdu request) throws Exception {
            assertEquals(Opcode.LOGIN_REQUEST, request.opcode());
            int csg = (request.flags() >> 2) & 3;
            byte[] bytes = new byte[request.dataLength()];
            request.data().getBytes(request.data().readerIndex(), bytes);
            TextParameters in = TextParameters.decode(bytes);
            TextParameters out = new TextParameters();
            if (csg == 1) {
                return response(request, 0x80 | (1 << 2) | 3, out, 0);
            }
            if (in.get("AuthMethod") != null) {
                out.add("AuthMethod", "CHAP");
                return response(request, 1, out, 0);
            }
            if (in.get("CHAP_A") != null) {
                offered = in.get("CHAP_A");
                out.add("CHAP_A", choice);
                if (!choice.equals("Reject")) {
                    out.add("CHAP_I", Integer.toString(challengeId));
                    out.add("CHAP_C", "0x" + HexFormat.of().formatHex(challenge));
                }
                return response(request, 1, out, 0);
            }
            responseReceived = HexFormat.of().parseHex(in.get("CHAP_R").substring(2));
            if (refuseResponse) {
                return response(request, 0, out, 0x0200);
            }
            boolean right = in.get("CHAP_N").equals(USER)
                    && Arrays.equals(digest(choice, challengeId, expectedSecret, challenge), responseReceived);
            if (!right) {
                return response(request, 0, out, 0x0201);
            }
            if (in.get("CHAP_I") != null) {
                int id = Integer.parseInt(in.get("CHAP_I"));
                byte[] theirs = HexFormat.of().parseHex(in.get("CHAP_C").substring(2));
                out.add("CHAP_N", TARGET_USER);
                out.add("CHAP_R", "0x" + HexFormat.of().formatHex(digest(choice, id, TARGET_SECRET, theirs)));
            }
            return response(request, 0x80 | 1, out, 0);
        }

        private Pdu response(Pdu request, int flags, TextParameters text, int status) {
            ByteBuf data = text.encode(io.netty.buffer.UnpooledByteBufAllocator.DEFAULT);
            Pdu p = Pdu.of(Opcode.LOGIN_RESPONSE, false, data);
            p.flags(flags);
            System.arraycopy(request.bhs(), 8, p.bhs(), 8, 6);
            p.shortAt(14, status == 0 ? 9 : 0).intAt(16, request.initiatorTaskTag());
            p.intAt(24, statSN++).intAt(28, request.intAt(24)).intAt(32, request.intAt(24) + 8);
            p.byteAt(36, status >> 8).byteAt(37, status & 0xff);
            return p;
        }
    }

    static byte[] digest(String code, int id, String secret, byte[] challenge) throws Exception {
        MessageDigest d = MessageDigest.getInstance(JCA.get(code));
        d.update((byte) id);
        d.update(secret.getBytes(StandardCharsets.UTF_8));
        d.update(challenge);
        return d.digest();
    }

    /** Runs one login between the initiator's pipeline and {@code target}; returns the handler's outcome. */
    static CompletableFuture<SessionParameters> login(LoginConfig config, Target target) throws Exception {
        DigestSettings digests = new DigestSettings();
        digests.maxRecvDataSegmentLength(65536);
        LoginHandler handler = new LoginHandler(new LoginNegotiator(config, LoginNegotiator.randomIsid(), 0, 1, 1,
                io.netty.buffer.UnpooledByteBufAllocator.DEFAULT), digests);
        EmbeddedChannel initiator = new EmbeddedChannel(PduDecoder.forInitiator(digests), new PduEncoder(digests), handler);
        DigestSettings targetDigests = new DigestSettings();
        targetDigests.maxRecvDataSegmentLength(65536);
        EmbeddedChannel targetSide = new EmbeddedChannel(PduDecoder.forTarget(targetDigests), new PduEncoder(targetDigests));
        try {
            for (int round = 0; round < 20 && !handler.result().isDone(); round++) {
                ByteBuf sent;
                while ((sent = initiator.readOutbound()) != null) {
                    targetSide.writeInbound(sent);
                }
                Pdu request;
                while ((request = targetSide.readInbound()) != null) {
                    try {
                        targetSide.writeOutbound(target.answer(request));
                    } finally {
                        request.release();
                    }
                }
                ByteBuf answer;
                while ((answer = targetSide.readOutbound()) != null) {
                    initiator.writeInbound(answer);
                }
            }
        } finally {
            initiator.finishAndReleaseAll();
            targetSide.finishAndReleaseAll();
        }
        assertTrue(handler.result().isDone(), "login neither completed nor failed");
        return handler.result();
    }

    static LoginConfig config(Credentials c, List<Chap.Algorithm> offer) {
        return LoginConfig.normal("iqn.2026-11.test:t", c).withChapAlgorithms(offer);
    }

    @ParameterizedTest(name = "target picks {0}, mutual {1}")
    @CsvSource({"5, false", "6, false", "7, false", "8, false", "5, true", "6, true", "7, true", "8, true"})
    void targetPicksEachAlgorithm(String code, boolean mutual) throws Exception {
        Credentials c = mutual ? Credentials.mutual(USER, SECRET, TARGET_USER, TARGET_SECRET) : Credentials.oneWay(USER, SECRET);
        Target t = new Target(code, false, SECRET);
        SessionParameters p = login(config(c, Chap.DEFAULT_OFFER), t).get(1, TimeUnit.SECONDS);
        Chap.Algorithm chosen = Chap.Algorithm.ofCode(Integer.parseInt(code));
        assertEquals("8,7,6,5", t.offered, "strongest first");
        assertEquals(chosen, p.chapAlgorithm());
        assertEquals(chosen.digestLength(), t.responseReceived.length, "response as long as the chosen digest");
        assertArrayEquals(digest(code, t.challengeId, SECRET, t.challenge), t.responseReceived);
    }

    @Test
    void theConfiguredListIsOfferedInItsOrder() throws Exception {
        Target t = new Target("5", false, SECRET);
        SessionParameters p = login(config(Credentials.oneWay(USER, SECRET), List.of(Chap.Algorithm.SHA_256, Chap.Algorithm.MD5)), t)
                .get(1, TimeUnit.SECONDS);
        assertEquals("7,5", t.offered);
        assertEquals(Chap.Algorithm.MD5, p.chapAlgorithm());
    }

    @Test
    void targetRejectingEveryAlgorithmFailsTheLogin() throws Exception {
        LoginException e = failure(login(config(Credentials.oneWay(USER, SECRET), Chap.DEFAULT_OFFER),
                new Target("Reject", false, SECRET)));
        assertTrue(e.getMessage().contains("none of the CHAP algorithms"), e.getMessage());
        assertNull(e.refusedChapAlgorithm(), "nothing to fall back from: every algorithm was offered");
    }

    @Test
    void targetChoosingAnAlgorithmNotOfferedFailsTheLogin() throws Exception {
        LoginException e = failure(login(config(Credentials.oneWay(USER, SECRET), List.of(Chap.Algorithm.SHA_256, Chap.Algorithm.MD5)),
                new Target("6", false, SECRET)));
        assertTrue(e.getMessage().contains("not offered"), e.getMessage());
    }

    @Test
    void refusalAfterAStrongResponseNamesTheAlgorithm() throws Exception {
        LoginException e = failure(login(config(Credentials.oneWay(USER, SECRET), Chap.DEFAULT_OFFER),
                new Target("7", true, SECRET)));
        assertEquals(2, e.statusClass());
        assertEquals(0, e.statusDetail());
        assertEquals(Chap.Algorithm.SHA_256, e.refusedChapAlgorithm());
    }

    @Test
    void wrongSecretIsAnAuthenticationFailureWithEveryAlgorithm() throws Exception {
        for (String code : List.of("5", "6", "7", "8")) {
            LoginException e = failure(login(config(Credentials.oneWay(USER, "not-the-secret"), Chap.DEFAULT_OFFER),
                    new Target(code, false, SECRET)));
            assertTrue(e.authenticationFailure(), e.getMessage());
            assertEquals(Chap.Algorithm.ofCode(Integer.parseInt(code)), e.refusedChapAlgorithm());
        }
    }

    @Test
    void targetProvingItselfWithTheWrongSecretIsCaught() throws Exception {
        Target t = new Target("7", false, SECRET);
        LoginException e = failure(login(config(Credentials.mutual(USER, SECRET, TARGET_USER, "another-secret"),
                Chap.DEFAULT_OFFER), t));
        assertTrue(e.getMessage().contains("mutual CHAP"), e.getMessage());
        assertFalse(t.responseReceived.length == 0);
    }

    static LoginException failure(CompletableFuture<SessionParameters> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(1, TimeUnit.SECONDS));
        return assertInstanceOf(LoginException.class, e.getCause());
    }
}
