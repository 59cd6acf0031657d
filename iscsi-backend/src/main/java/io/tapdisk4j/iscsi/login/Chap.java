package io.tapdisk4j.iscsi.login;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;

/**
 * CHAP (RFC 1994 as used by RFC 7143 12.1.3): response = H(identifier || secret || challenge). The
 * algorithm numbers are IANA's "PPP Authentication Algorithms" values iSCSI targets offer: 5 (MD5),
 * 6 (SHA-1), 7 (SHA-256) and 8 (SHA3-256).
 */
public final class Chap {

    public enum Algorithm {
        SHA3_256(8, "SHA3-256"),
        SHA_256(7, "SHA-256"),
        SHA_1(6, "SHA-1"),
        MD5(5, "MD5");

        final int code;
        final String jcaName;

        Algorithm(int code, String jcaName) {
            this.code = code;
            this.jcaName = jcaName;
        }

        public int code() {
            return code;
        }

        public int digestLength() {
            return digest().getDigestLength();
        }

        MessageDigest digest() {
            try {
                return MessageDigest.getInstance(jcaName);
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(jcaName + " is part of every Java runtime", e);
            }
        }

        public static Algorithm ofCode(int code) {
            for (Algorithm a : values()) {
                if (a.code == code) {
                    return a;
                }
            }
            return null;
        }
    }

    /**
     * What the initiator offers in CHAP_A. RFC 7143 lets the target pick from a list, but tgt (1.0.x)
     * refuses any CHAP_A value other than exactly "5" with an initiator error, so MD5 alone is offered;
     * responses for the other algorithms are computed correctly should a configuration offer them.
     */
    public static final List<Algorithm> OFFERED = List.of(Algorithm.MD5);

    private Chap() {
    }

    public static byte[] response(Algorithm algorithm, int identifier, String secret, byte[] challenge) {
        MessageDigest d = algorithm.digest();
        d.update((byte) identifier);
        d.update(secret.getBytes(StandardCharsets.UTF_8));
        d.update(challenge);
        return d.digest();
    }

    /** Binary values are "0x" + hex or "0b" + base64 (RFC 7143 6.1). */
    public static byte[] decodeBinary(String value) throws LoginException {
        try {
            if (value.startsWith("0x") || value.startsWith("0X")) {
                String hex = value.substring(2);
                if ((hex.length() & 1) != 0) {
                    hex = "0" + hex;
                }
                return HexFormat.of().parseHex(hex);
            }
            if (value.startsWith("0b") || value.startsWith("0B")) {
                return Base64.getDecoder().decode(value.substring(2));
            }
        } catch (IllegalArgumentException e) {
            throw new LoginException("malformed CHAP binary value: " + e.getMessage());
        }
        throw new LoginException("CHAP binary value without 0x or 0b prefix");
    }

    public static String encodeHex(byte[] bytes) {
        return "0x" + HexFormat.of().formatHex(bytes);
    }

    public static String offeredList() {
        StringBuilder sb = new StringBuilder();
        for (Algorithm a : OFFERED) {
            if (!sb.isEmpty()) {
                sb.append(',');
            }
            sb.append(a.code);
        }
        return sb.toString();
    }
}
