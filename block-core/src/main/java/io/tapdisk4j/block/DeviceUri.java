package io.tapdisk4j.block;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A device URI: {@code scheme:[//[userinfo@]host[:port]]path[?query]}. Parsed by hand rather than with
 * {@link java.net.URI} because opaque forms such as {@code null:?size=1G} must keep their query, and
 * libiscsi's {@code user%password@} userinfo is not a valid escape sequence for java.net.URI.
 */
public record DeviceUri(String text, String scheme, String userInfo, String host, int port, String path,
                        Map<String, String> query) {

    public static DeviceUri parse(String text) {
        int colon = text.indexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("not a device URI (no scheme): '" + text + "'");
        }
        String scheme = text.substring(0, colon).toLowerCase();
        if (!scheme.matches("[a-z][a-z0-9+.-]*")) {
            throw new IllegalArgumentException("bad scheme in device URI: '" + text + "'");
        }
        String rest = text.substring(colon + 1);
        String queryText = null;
        int q = rest.indexOf('?');
        if (q >= 0) {
            queryText = rest.substring(q + 1);
            rest = rest.substring(0, q);
        }
        String userInfo = null;
        String host = null;
        int port = -1;
        String path = rest;
        if (rest.startsWith("//")) {
            int slash = rest.indexOf('/', 2);
            String authority = slash < 0 ? rest.substring(2) : rest.substring(2, slash);
            path = slash < 0 ? "" : rest.substring(slash);
            int at = authority.lastIndexOf('@');
            if (at >= 0) {
                userInfo = authority.substring(0, at);
                authority = authority.substring(at + 1);
            }
            if (authority.startsWith("[")) {
                int close = authority.indexOf(']');
                if (close < 0) {
                    throw new IllegalArgumentException("unterminated IPv6 address in '" + text + "'");
                }
                host = authority.substring(1, close);
                authority = authority.substring(close + 1);
                if (authority.startsWith(":")) {
                    port = parsePort(authority.substring(1), text);
                }
            } else {
                int pc = authority.lastIndexOf(':');
                if (pc >= 0) {
                    port = parsePort(authority.substring(pc + 1), text);
                    authority = authority.substring(0, pc);
                }
                host = authority.isEmpty() ? null : authority;
            }
        }
        Map<String, String> query = new LinkedHashMap<>();
        if (queryText != null && !queryText.isEmpty()) {
            for (String pair : queryText.split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                String k = eq < 0 ? pair : pair.substring(0, eq);
                String v = eq < 0 ? "" : pair.substring(eq + 1);
                query.put(decode(k), decode(v));
            }
        }
        return new DeviceUri(text, scheme, userInfo, host, port, decode(path), Collections.unmodifiableMap(query));
    }

    private static int parsePort(String s, String text) {
        try {
            int p = Integer.parseInt(s);
            if (p < 0 || p > 65535) {
                throw new NumberFormatException();
            }
            return p;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad port '" + s + "' in '" + text + "'");
        }
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    public Optional<String> param(String name) {
        return Optional.ofNullable(query.get(name));
    }

    public int port(int defaultPort) {
        return port < 0 ? defaultPort : port;
    }

    /** A size parameter such as {@code size=10G}; {@code defaultSize} when absent. */
    public long sizeParam(String name, long defaultSize) {
        String v = query.get(name);
        return v == null ? defaultSize : Sizes.parse(v);
    }

    public long longParam(String name, long defaultValue) {
        String v = query.get(name);
        if (v == null) {
            return defaultValue;
        }
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("parameter " + name + "=" + v + " is not a number in '" + text + "'");
        }
    }

    private static final java.util.regex.Pattern USER_PASSWORD =
            java.util.regex.Pattern.compile("(\\b[A-Za-z][A-Za-z0-9+.-]*://[^/@\\s%:]*[%:])[^@\\s/]*@");
    private static final java.util.regex.Pattern SECRET_PARAM = java.util.regex.Pattern.compile(
            "([?&][A-Za-z_-]*(?:password|secret|psk|key|token)=)[^&\\s]*", java.util.regex.Pattern.CASE_INSENSITIVE);

    /**
     * The URI for output and logs: a password in the user info ({@code user%password@}, {@code user:password@})
     * and the values of parameters named like a password, secret, PSK, key or token become {@code ***}.
     * Opening needs {@link #text()}; everything shown to a person goes through this (toString does).
     */
    public String redacted() {
        return redact(text);
    }

    /** {@link #redacted()} for every URI inside any text (an error message, a log line). */
    public static String redact(String anyText) {
        if (anyText == null) {
            return null;
        }
        String s = USER_PASSWORD.matcher(anyText).replaceAll("$1***@");
        return SECRET_PARAM.matcher(s).replaceAll("$1***");
    }

    /** The redacted URI: a URI concatenated into a message or a log line shows no secret. */
    @Override
    public String toString() {
        return redacted();
    }
}
