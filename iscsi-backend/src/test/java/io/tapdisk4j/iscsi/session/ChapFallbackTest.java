package io.tapdisk4j.iscsi.session;

import io.tapdisk4j.iscsi.text.Chap;
import io.tapdisk4j.iscsi.login.Credentials;
import io.tapdisk4j.iscsi.login.LoginConfig;
import io.tapdisk4j.iscsi.text.LoginException;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** When {@link Connector} logs in a second time offering MD5 alone (the tgtd tests run the whole path). */
class ChapFallbackTest {

    static final LoginConfig DEFAULT = LoginConfig.normal("iqn.t:x", Credentials.oneWay("u", "secretsecret"));

    static LoginException refusedAfter(Chap.Algorithm a) {
        return new LoginException("refused", 2, 0, a);
    }

    @Test
    void strongerAlgorithmRefusedFallsBackWhenMd5IsAllowed() {
        assertTrue(Connector.md5Fallback(DEFAULT, refusedAfter(Chap.Algorithm.SHA_256)));
        assertTrue(Connector.md5Fallback(DEFAULT, refusedAfter(Chap.Algorithm.SHA3_256)));
        assertTrue(Connector.md5Fallback(DEFAULT, refusedAfter(Chap.Algorithm.SHA_1)));
    }

    @Test
    void noFallbackFromMd5ItselfNorWhenMd5IsNotOffered() {
        assertFalse(Connector.md5Fallback(DEFAULT, refusedAfter(Chap.Algorithm.MD5)));
        assertFalse(Connector.md5Fallback(DEFAULT.withChapAlgorithms(List.of(Chap.Algorithm.SHA_256)),
                refusedAfter(Chap.Algorithm.SHA_256)));
    }

    @Test
    void noFallbackForRefusalsBeforeAnyChapResponse() {
        assertFalse(Connector.md5Fallback(DEFAULT, new LoginException("target not found", 2, 3)));
        assertFalse(Connector.md5Fallback(DEFAULT, new LoginException("timed out")));
    }
}
