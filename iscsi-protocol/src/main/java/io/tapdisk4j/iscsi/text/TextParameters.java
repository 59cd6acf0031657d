package io.tapdisk4j.iscsi.text;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The text key=value format of Login and Text PDUs (RFC 7143 6.1): UTF-8 pairs each ended by a NUL.
 * Order is kept (SendTargets answers repeat TargetAddress after each TargetName, so a list of pairs, not a
 * map, is the faithful form). Hostile input (no '=', bad key characters, overlong keys or values) is
 * refused with a {@link LoginException} naming the problem.
 */
public final class TextParameters {

    /** RFC 7143 6.1: keys are at most 63 bytes; values at most 255 bytes unless a key says otherwise. */
    static final int MAX_KEY = 63;
    static final int MAX_VALUE = 8192;

    private final List<Map.Entry<String, String>> pairs = new ArrayList<>();

    public TextParameters add(String key, String value) {
        checkKey(key);
        pairs.add(Map.entry(key, value));
        return this;
    }

    public List<Map.Entry<String, String>> pairs() {
        return pairs;
    }

    /** The last value given for {@code key}, or null. */
    public String get(String key) {
        String v = null;
        for (Map.Entry<String, String> e : pairs) {
            if (e.getKey().equals(key)) {
                v = e.getValue();
            }
        }
        return v;
    }

    public boolean isEmpty() {
        return pairs.isEmpty();
    }

    /** The pairs as a map (later values win); convenient where each key appears once. */
    public Map<String, String> asMap() {
        Map<String, String> m = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : pairs) {
            m.put(e.getKey(), e.getValue());
        }
        return m;
    }

    public ByteBuf encode(ByteBufAllocator alloc) {
        ByteBuf b = alloc.buffer();
        for (Map.Entry<String, String> e : pairs) {
            b.writeCharSequence(e.getKey(), StandardCharsets.UTF_8);
            b.writeByte('=');
            b.writeCharSequence(e.getValue(), StandardCharsets.UTF_8);
            b.writeByte(0);
        }
        return b;
    }

    /** Parses a complete text (all continuation segments concatenated); trailing bytes must end with NUL. */
    public static TextParameters decode(byte[] text) throws LoginException {
        TextParameters p = new TextParameters();
        int start = 0;
        for (int i = 0; i < text.length; i++) {
            if (text[i] == 0) {
                if (i > start) {
                    p.addParsed(new String(text, start, i - start, StandardCharsets.UTF_8));
                }
                start = i + 1;
            }
        }
        if (start < text.length) {
            throw new LoginException("text segment does not end with a NUL ("
                    + (text.length - start) + " trailing bytes)");
        }
        return p;
    }

    private void addParsed(String pair) throws LoginException {
        int eq = pair.indexOf('=');
        if (eq <= 0) {
            throw new LoginException("malformed text parameter (no key=value): '" + printable(pair) + "'");
        }
        String key = pair.substring(0, eq);
        String value = pair.substring(eq + 1);
        if (key.length() > MAX_KEY || !key.matches("[A-Za-z0-9.\\-+@_]+")) {
            throw new LoginException("malformed text key: '" + printable(key) + "'");
        }
        if (value.length() > MAX_VALUE) {
            throw new LoginException("value of " + key + " is " + value.length() + " bytes long");
        }
        pairs.add(Map.entry(key, value));
    }

    private static void checkKey(String key) {
        if (key.isEmpty() || key.length() > MAX_KEY || key.indexOf('=') >= 0 || key.indexOf(0) >= 0) {
            throw new IllegalArgumentException("bad text key '" + key + "'");
        }
    }

    private static String printable(String s) {
        String t = s.length() > 80 ? s.substring(0, 80) + "…" : s;
        return t.replaceAll("[^\\x20-\\x7e]", "?");
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, String> e : pairs) {
            if (!sb.isEmpty()) {
                sb.append(", ");
            }
            boolean secret = e.getKey().equals("CHAP_R") || e.getKey().equals("CHAP_C");
            sb.append(e.getKey()).append('=').append(secret ? "…" : e.getValue());
        }
        return sb.toString();
    }
}
