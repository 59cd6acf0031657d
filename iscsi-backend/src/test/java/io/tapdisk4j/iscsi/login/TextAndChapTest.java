package io.tapdisk4j.iscsi.login;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
