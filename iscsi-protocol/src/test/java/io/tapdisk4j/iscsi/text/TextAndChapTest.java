package io.tapdisk4j.iscsi.text;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TextAndChapTest {

    @Test
    void textRoundTripKeepsOrderAndRepeats() throws Exception {
        TextParameters t = new TextParameters().add("TargetName", "iqn.a").add("TargetAddress", "1.2.3.4:3260,1")
                .add("TargetName", "iqn.b");
        ByteBuf b = t.encode(UnpooledByteBufAllocator.DEFAULT);
        byte[] bytes = new byte[b.readableBytes()];
        b.readBytes(bytes);
        b.release();
        TextParameters back = TextParameters.decode(bytes);
        assertEquals(3, back.pairs().size());
        assertEquals("iqn.b", back.get("TargetName"));
        assertEquals("1.2.3.4:3260,1", back.pairs().get(1).getValue());
    }

    @Test
    void hostileTextIsRefused() {
        assertThrows(LoginException.class, () -> TextParameters.decode("NoEquals\0".getBytes(StandardCharsets.UTF_8)));
        assertThrows(LoginException.class, () -> TextParameters.decode("A=b".getBytes(StandardCharsets.UTF_8)));
        assertThrows(LoginException.class, () -> TextParameters.decode("=v\0".getBytes(StandardCharsets.UTF_8)));
        assertThrows(LoginException.class, () -> TextParameters.decode("bad key=v\0".getBytes(StandardCharsets.UTF_8)));
        assertThrows(LoginException.class, () -> TextParameters.decode(("K" + "x".repeat(70) + "=v\0").getBytes(StandardCharsets.UTF_8)));
        assertThrows(LoginException.class, () -> TextParameters.decode(("K=" + "v".repeat(9000) + "\0").getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void emptyPairsBetweenNulsAreTolerated() throws Exception {
        assertEquals(1, TextParameters.decode("A=1\0\0".getBytes(StandardCharsets.UTF_8)).pairs().size());
    }

    @Test
    void chapResponseIsDigestOfIdSecretChallenge() throws Exception {
        byte[] challenge = HexFormat.of().parseHex("0102030405060708090a0b0c0d0e0f10");
        MessageDigest md5 = MessageDigest.getInstance("MD5");
        md5.update((byte) 7);
        md5.update("secret".getBytes(StandardCharsets.UTF_8));
        md5.update(challenge);
        assertArrayEquals(md5.digest(), Chap.response(Chap.Algorithm.MD5, 7, "secret", challenge));
        assertEquals(32, Chap.response(Chap.Algorithm.SHA_256, 7, "secret", challenge).length);
    }

    /**
     * Known answers for H(identifier || secret || challenge), computed outside Java with Python's hashlib
     * ({@code hashlib.new(name, bytes([id]) + secret + challenge).hexdigest()}).
     */
    @ParameterizedTest
    @CsvSource({
            "MD5,      1,   alicesecret1, 000102030405060708090a0b0c0d0e0f, 4cd249756a6480d438b501d002ed82dc",
            "SHA_1,    1,   alicesecret1, 000102030405060708090a0b0c0d0e0f, 4cff85bfc559d851b6da2f863d2b722c448e14e4",
            "SHA_256,  1,   alicesecret1, 000102030405060708090a0b0c0d0e0f, 17013d3ad5d1504fa23b01a0faacf5c0997b0d6ef3c82db49ff92191e66c158c",
            "SHA3_256, 1,   alicesecret1, 000102030405060708090a0b0c0d0e0f, 3df65da9739ad7fc81f609d14e70964dfd650a6df4b7fbe4fff6231726544e79",
            "MD5,      255, targetsecret, fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1e0, f432eecefd10497b3a3fc91b986c66e8",
            "SHA_1,    255, targetsecret, fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1e0, 22531b07eb4b54d3e81f92b12203bb2ba91d0666",
            "SHA_256,  255, targetsecret, fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1e0, eeb744cc422e4ac468d9306d6b83d84464e13ea6d3a323124f0be380a52960e8",
            "SHA3_256, 255, targetsecret, fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1e0, 60f63dc4421243a23a57504e5c2146a4b3b1f24446f4b8195e7f55f3ec331657",
    })
    void chapKnownAnswers(Chap.Algorithm algorithm, int id, String secret, String challenge, String expected) {
        byte[] r = Chap.response(algorithm, id, secret, HexFormat.of().parseHex(challenge));
        assertEquals(expected, HexFormat.of().formatHex(r));
        assertEquals(algorithm.digestLength(), r.length);
    }

    @Test
    void chapAlgorithmNumbersAndNames() {
        assertEquals(List.of(5, 6, 7, 8), List.of(Chap.Algorithm.MD5.code(), Chap.Algorithm.SHA_1.code(),
                Chap.Algorithm.SHA_256.code(), Chap.Algorithm.SHA3_256.code()));
        assertEquals(List.of(16, 20, 32, 32), List.of(Chap.Algorithm.MD5.digestLength(), Chap.Algorithm.SHA_1.digestLength(),
                Chap.Algorithm.SHA_256.digestLength(), Chap.Algorithm.SHA3_256.digestLength()));
        assertEquals("8,7,6,5", Chap.offerList(Chap.DEFAULT_OFFER));
        assertEquals(List.of(Chap.Algorithm.SHA_256, Chap.Algorithm.MD5), Chap.parseList("SHA-256, md5,sha256"));
        assertEquals(List.of(Chap.Algorithm.SHA3_256, Chap.Algorithm.SHA_1), Chap.parseList("8,6"));
        assertThrows(IllegalArgumentException.class, () -> Chap.parseList("md4"));
        assertThrows(IllegalArgumentException.class, () -> Chap.parseList(" , "));
        assertNull(Chap.Algorithm.ofCode(7 + 2));
    }

    @Test
    void chapBinaryValuesInHexAndBase64() throws Exception {
        assertArrayEquals(new byte[] {1, (byte) 0xab}, Chap.decodeBinary("0x01ab"));
        assertArrayEquals(new byte[] {1, (byte) 0xab}, Chap.decodeBinary("0X1ab"));
        assertArrayEquals(new byte[] {1, 2, 3}, Chap.decodeBinary("0bAQID"));
        assertThrows(LoginException.class, () -> Chap.decodeBinary("0xzz"));
        assertThrows(LoginException.class, () -> Chap.decodeBinary("1234"));
        assertTrue(Chap.encodeHex(new byte[] {(byte) 0xff}).equals("0xff"));
    }
}
