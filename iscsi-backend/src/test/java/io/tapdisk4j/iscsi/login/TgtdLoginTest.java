package io.tapdisk4j.iscsi.login;

import io.tapdisk4j.iscsi.session.Discovery;
import io.tapdisk4j.iscsi.session.IscsiSession;
import io.tapdisk4j.iscsi.session.ScsiCommand;
import io.tapdisk4j.iscsi.session.ScsiResult;
import io.tapdisk4j.iscsi.session.SessionConfig;
import io.tapdisk4j.iscsi.scsi.Cdb;
import io.tapdisk4j.iscsi.scsi.ReadCapacity;
import io.tapdisk4j.testsupport.peers.Tgtd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Login and discovery against a real tgtd: no authentication, CHAP one-way and mutual, wrong secrets. */
class TgtdLoginTest {

    static final long SIZE = 16L << 20;

    @TempDir
    static Path dir;
    static Tgtd open;
    static Tgtd chap;

    @BeforeAll
    static void start() throws Exception {
        Path disk1 = dir.resolve("open.raw");
        Path disk2 = dir.resolve("chap.raw");
        try (RandomAccessFile f = new RandomAccessFile(disk1.toFile(), "rw")) {
            f.setLength(SIZE);
        }
        try (RandomAccessFile f = new RandomAccessFile(disk2.toFile(), "rw")) {
            f.setLength(SIZE);
        }
        open = Tgtd.start(dir.resolve("open")).targetWithLun(disk1).allowDigests();
        chap = Tgtd.start(dir.resolve("chap")).targetWithLun(disk2)
                .chapAccount("alice", "alicesecret1", false)
                .chapAccount("target", "targetsecret", true).allowDigests();
    }

    @AfterAll
    static void stop() {
        if (open != null) {
            open.close();
        }
        if (chap != null) {
            chap.close();
        }
    }

    private static long capacity(Tgtd t, Credentials c, boolean digests) throws Exception {
        return capacity(t, LoginConfig.normal(Tgtd.IQN, c).withDigests(digests, digests), null);
    }

    /** Logs in, checks the digests (and the CHAP algorithm, when given) and returns the LUN's size. */
    private static long capacity(Tgtd t, LoginConfig login, Chap.Algorithm expectedChap) throws Exception {
        boolean digests = login.headerDigest();
        try (IscsiSession s = IscsiSession.open(SessionConfig.of("127.0.0.1", t.port(), login)).get(20, TimeUnit.SECONDS)) {
            assertEquals(digests, s.parameters().headerDigest());
            assertEquals(digests, s.parameters().dataDigest());
            if (expectedChap != null) {
                assertEquals(expectedChap, s.parameters().chapAlgorithm());
            }
            ScsiResult r = s.execute(ScsiCommand.read(1, Cdb.readCapacity16(32), 32)).get(20, TimeUnit.SECONDS);
            try {
                return ReadCapacity.parse16(r.data()).bytes();
            } finally {
                r.data().release();
            }
        }
    }

    @Test
    void loginWithoutAuthenticationAndReadCapacity() throws Exception {
        assertEquals(SIZE, capacity(open, Credentials.NONE, false));
    }

    @Test
    void crc32cHeaderAndDataDigests() throws Exception {
        assertEquals(SIZE, capacity(open, Credentials.NONE, true));
    }

    @Test
    void negotiatedValuesAreWithinWhatBothSidesOffered() throws Exception {
        LoginConfig login = LoginConfig.normal(Tgtd.IQN, Credentials.NONE);
        try (IscsiSession s = IscsiSession.open(SessionConfig.of("127.0.0.1", open.port(), login)).get(20, TimeUnit.SECONDS)) {
            SessionParameters p = s.parameters();
            assertTrue(p.maxBurstLength() <= login.maxBurstLength() && p.maxBurstLength() >= 512, p.toString());
            assertTrue(p.firstBurstLength() <= p.maxBurstLength(), p.toString());
            assertTrue(p.maxXmitDataSegmentLength() >= 512, p.toString());
            assertEquals(0, p.errorRecoveryLevel());
            assertTrue(p.tsih() != 0, "the target assigns a TSIH");
        }
    }

    @Test
    void oneWayChap() throws Exception {
        assertEquals(SIZE, capacity(chap, Credentials.oneWay("alice", "alicesecret1"), false));
    }

    @Test
    void mutualChap() throws Exception {
        assertEquals(SIZE, capacity(chap, Credentials.mutual("alice", "alicesecret1", "target", "targetsecret"), true));
    }

    /**
     * tgt takes the first of "5" and "7" in the initiator's list but computes SHA-1 for 7 (IANA's 7 is
     * SHA-256), so the default offer (8,7,6,5) is refused once and the login is repeated with MD5.
     */
    @Test
    void chapWithTheDefaultOfferEndsWithMd5OnTgt() throws Exception {
        LoginConfig login = LoginConfig.normal(Tgtd.IQN, Credentials.mutual("alice", "alicesecret1", "target", "targetsecret"));
        assertEquals(SIZE, capacity(chap, login, Chap.Algorithm.MD5));
    }

    @Test
    void tgtRefusesACorrectSha256Response() {
        LoginConfig login = LoginConfig.normal(Tgtd.IQN, Credentials.oneWay("alice", "alicesecret1"))
                .withChapAlgorithms(List.of(Chap.Algorithm.SHA_256));
        ExecutionException e = assertThrows(ExecutionException.class, () -> capacity(chap, login, null));
        LoginException le = assertInstanceOf(LoginException.class, e.getCause());
        assertEquals(Chap.Algorithm.SHA_256, le.refusedChapAlgorithm(), le.getMessage());
        assertEquals(2, le.statusClass(), le.getMessage());
    }

    @Test
    void tgtSkipsSha1AndTakesMd5FromTheList() throws Exception {
        LoginConfig login = LoginConfig.normal(Tgtd.IQN, Credentials.oneWay("alice", "alicesecret1"))
                .withChapAlgorithms(List.of(Chap.Algorithm.SHA_1, Chap.Algorithm.MD5));
        assertEquals(SIZE, capacity(chap, login, Chap.Algorithm.MD5));
    }

    @Test
    void wrongSecretIsAnAuthenticationFailure() {
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> capacity(chap, Credentials.oneWay("alice", "wrongsecret1"), false));
        LoginException le = assertInstanceOf(LoginException.class, e.getCause());
        assertTrue(le.authenticationFailure(), le.getMessage());
    }

    @Test
    void wrongTargetSecretIsDetectedByTheInitiator() {
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> capacity(chap, Credentials.mutual("alice", "alicesecret1", "target", "notthesecret"), false));
        LoginException le = assertInstanceOf(LoginException.class, e.getCause());
        assertTrue(le.getMessage().contains("mutual CHAP"), le.getMessage());
    }

    @Test
    void chapTargetRefusesAnInitiatorWithoutCredentials() {
        ExecutionException e = assertThrows(ExecutionException.class, () -> capacity(chap, Credentials.NONE, false));
        LoginException le = assertInstanceOf(LoginException.class, e.getCause());
        assertTrue(le.authenticationFailure(), le.getMessage());
    }

    @Test
    void unknownTargetIsRefused() {
        LoginConfig login = LoginConfig.normal("iqn.2026-11.io.tapdisk4j.test:nosuch", Credentials.NONE);
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> IscsiSession.open(SessionConfig.of("127.0.0.1", open.port(), login)).get(20, TimeUnit.SECONDS));
        LoginException le = assertInstanceOf(LoginException.class, e.getCause());
        assertEquals(2, le.statusClass());
        assertEquals(3, le.statusDetail(), le.getMessage());
    }

    @Test
    void sendTargetsDiscovery() throws Exception {
        List<Discovery.DiscoveredTarget> targets = Discovery.sendTargets("127.0.0.1", open.port(), Credentials.NONE,
                Duration.ofSeconds(10)).get(20, TimeUnit.SECONDS);
        assertEquals(1, targets.size(), targets.toString());
        assertEquals(Tgtd.IQN, targets.get(0).name());
        assertTrue(targets.get(0).addresses().stream().anyMatch(a -> a.startsWith(open.portal())), targets.toString());
    }

    @Test
    void sendTargetsDiscoveryWithChap() throws Exception {
        List<Discovery.DiscoveredTarget> targets = Discovery.sendTargets("127.0.0.1", chap.port(),
                Credentials.oneWay("alice", "alicesecret1"), Duration.ofSeconds(10)).get(20, TimeUnit.SECONDS);
        assertEquals(List.of(Tgtd.IQN), targets.stream().map(Discovery.DiscoveredTarget::name).toList());
    }
}
