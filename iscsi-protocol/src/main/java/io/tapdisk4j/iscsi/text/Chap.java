package io.tapdisk4j.iscsi.text;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * CHAP (RFC 1994 as used by RFC 7143 12.1.3): response = H(identifier || secret || challenge), as long as
 * the digest of the algorithm the target chose. The algorithm numbers (CHAP_A) are IANA's "PPP
 * Authentication Algorithms": 5 MD5 (the only one RFC 7143 names), 6 SHA-1, 7 SHA-256, 8 SHA3-256, the
 * values Linux LIO, open-iscsi and SCST implement.
 *
 * <p>tgt (1.0.x) takes a list and picks the first of "5" and "7" in the initiator's order, but computes
 * SHA-1 for 7; a correct SHA-256 response is refused. The initiator (iscsi-backend)
 * therefore logs in again with MD5 alone when a target refuses the response of a stronger algorithm it
 * chose itself, and the list offered can be narrowed per URL ({@code chap_algorithms=}).
 */
public final class Chap {

    public enum Algorithm {
        SHA3_256(8, "SHA3-256", "sha3-256"),
        SHA_256(7, "SHA-256", "sha256"),
        SHA_1(6, "SHA-1", "sha1"),
        MD5(5, "MD5", "md5");

        final int code;
        final String jcaName;
        final String urlName;

        Algorithm(int code, String jcaName, String urlName) {
            this.code = code;
            this.jcaName = jcaName;
            this.urlName = urlName;
        }

        public int code() {
            return code;
        }

        /** The name used in URLs and messages: md5, sha1, sha256, sha3-256 (open-iscsi's, in lower case). */
        public String urlName() {
            return urlName;
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

        /** By URL name (md5, sha1, sha256, sha3-256, case and a dash after "sha" ignored) or by number (5-8). */
        public static Algorithm named(String name) {
            String n = name.trim().toLowerCase(Locale.ROOT);
            for (Algorithm a : values()) {
                if (a.urlName.equals(n) || a.urlName.equals(n.replace("sha-", "sha")) || Integer.toString(a.code).equals(n)) {
                    return a;
                }
            }
            throw new IllegalArgumentException("unknown CHAP algorithm '" + name + "' (md5, sha1, sha256, sha3-256)");
        }
    }

    /** What the initiator offers unless told otherwise: every algorithm, strongest first. */
    public static final List<Algorithm> DEFAULT_OFFER = List.of(Algorithm.SHA3_256, Algorithm.SHA_256, Algorithm.SHA_1,
            Algorithm.MD5);

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

    /** The CHAP_A value: the codes in order of preference, comma separated. */
    public static String offerList(List<Algorithm> offer) {
        StringBuilder sb = new StringBuilder();
        for (Algorithm a : offer) {
            if (!sb.isEmpty()) {
                sb.append(',');
            }
            sb.append(a.code);
        }
        return sb.toString();
    }

    /** A comma-separated list of algorithm names or numbers, in order of preference, without repeats. */
    public static List<Algorithm> parseList(String list) {
        List<Algorithm> out = new ArrayList<>();
        for (String part : list.split(",")) {
            if (part.isBlank()) {
                continue;
            }
            Algorithm a = Algorithm.named(part);
            if (!out.contains(a)) {
                out.add(a);
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no CHAP algorithm in '" + list + "'");
        }
        return List.copyOf(out);
    }
}
