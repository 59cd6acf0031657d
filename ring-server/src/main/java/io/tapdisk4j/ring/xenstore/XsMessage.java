package io.tapdisk4j.ring.xenstore;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One {@code xsd_sockmsg} with its payload. The type stays a raw number so that a server can answer an
 * unknown one with EINVAL instead of dropping the connection. The payload is a private copy (at most
 * {@value #PAYLOAD_MAX} bytes), so messages hold no reference-counted memory.
 */
public record XsMessage(int type, int reqId, int txId, byte[] payload) {

    public static final int HEADER_SIZE = 16;
    /** XENSTORE_PAYLOAD_MAX: "violating this is very bad". */
    public static final int PAYLOAD_MAX = 4096;
    /** XENSTORE_ABS_PATH_MAX. */
    public static final int ABS_PATH_MAX = 3072;
    /** XENSTORE_REL_PATH_MAX. */
    public static final int REL_PATH_MAX = 2048;

    public XsMessage {
        if (payload.length > PAYLOAD_MAX) {
            throw new IllegalArgumentException("xenstore payload of " + payload.length + " bytes exceeds "
                    + PAYLOAD_MAX);
        }
    }

    public static XsMessage of(XsType type, int reqId, int txId, byte[] payload) {
        return new XsMessage(type.code(), reqId, txId, payload);
    }

    /** A payload of NUL-terminated strings ("path\0token\0"). */
    public static byte[] strings(String... parts) {
        int n = 0;
        byte[][] enc = new byte[parts.length][];
        for (int i = 0; i < parts.length; i++) {
            enc[i] = parts[i].getBytes(StandardCharsets.UTF_8);
            n += enc[i].length + 1;
        }
        byte[] out = new byte[n];
        int p = 0;
        for (byte[] e : enc) {
            System.arraycopy(e, 0, out, p, e.length);
            p += e.length + 1;
        }
        return out;
    }

    /** "path\0" followed by raw bytes without terminator: the WRITE payload. */
    public static byte[] pathAndValue(String path, byte[] value) {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        byte[] out = Arrays.copyOf(p, p.length + 1 + value.length);
        System.arraycopy(value, 0, out, p.length + 1, value.length);
        return out;
    }

    public XsType knownType() {
        return XsType.of(type);
    }

    /**
     * The payload split at NULs. A trailing NUL ends the last string; bytes after the last NUL form one more
     * string (so "a\0b" and "a\0b\0" both give [a, b], and an empty payload gives []).
     */
    public List<String> strings() {
        List<String> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < payload.length; i++) {
            if (payload[i] == 0) {
                out.add(new String(payload, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        if (start < payload.length) {
            out.add(new String(payload, start, payload.length - start, StandardCharsets.UTF_8));
        }
        return out;
    }

    /** The payload as one string, without a trailing NUL if there is one. */
    public String text() {
        int n = payload.length;
        if (n > 0 && payload[n - 1] == 0) {
            n--;
        }
        return new String(payload, 0, n, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        XsType t = knownType();
        return "XsMessage[" + (t != null ? t : "type " + type) + " req=" + Integer.toUnsignedString(reqId)
                + " tx=" + Integer.toUnsignedString(txId) + " len=" + payload.length + "]";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof XsMessage m && m.type == type && m.reqId == reqId && m.txId == txId
                && Arrays.equals(m.payload, payload);
    }

    @Override
    public int hashCode() {
        return ((type * 31 + reqId) * 31 + txId) * 31 + Arrays.hashCode(payload);
    }
}
