package io.tapdisk4j.iscsi.device;

import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.iscsi.text.Chap;
import io.tapdisk4j.iscsi.login.Credentials;
import io.tapdisk4j.iscsi.login.LoginConfig;
import io.tapdisk4j.iscsi.session.SessionConfig;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * libiscsi's URL form: {@code iscsi://[user[%password]@]host[:port]/target-iqn/lun}. Query parameters
 * (ours, in libiscsi's spirit): {@code target_user}/{@code target_password} for mutual CHAP,
 * {@code header_digest}/{@code data_digest} ({@code crc32c} or {@code none}), {@code initiator_name},
 * {@code chap_algorithms} (the CHAP_A offer in order of preference, e.g. {@code sha256,md5}; default
 * {@code sha3-256,sha256,sha1,md5}).
 * A URL without the LUN (or without the target) names a portal, for discovery.
 */
public record IscsiUrl(String host, int port, String target, int lun, Credentials credentials,
                       boolean headerDigest, boolean dataDigest, String initiatorName,
                       List<Chap.Algorithm> chapAlgorithms) {

    public static IscsiUrl parse(DeviceUri uri) {
        if (!uri.scheme().equals("iscsi")) {
            throw new IllegalArgumentException("not an iscsi:// URL: " + uri);
        }
        if (uri.host() == null || uri.host().isEmpty()) {
            throw new IllegalArgumentException("iscsi:// URL without a host: " + uri);
        }
        String user = null;
        String password = null;
        if (uri.userInfo() != null && !uri.userInfo().isEmpty()) {
            String ui = uri.userInfo();
            int pct = ui.indexOf('%');
            user = decode(pct < 0 ? ui : ui.substring(0, pct));
            password = pct < 0 ? System.getenv("LIBISCSI_CHAP_PASSWORD") : decode(ui.substring(pct + 1));
            if (password == null) {
                throw new IllegalArgumentException("CHAP user " + user + " without a password in " + uri
                        + " (give user%password@ or set LIBISCSI_CHAP_PASSWORD)");
            }
        }
        String targetUser = uri.param("target_user").orElse(null);
        String targetPassword = uri.param("target_password").orElse(null);
        if ((targetUser == null) != (targetPassword == null) || (targetUser != null && user == null)) {
            throw new IllegalArgumentException("mutual CHAP needs user%password@ and both target_user and target_password: " + uri);
        }
        Credentials credentials = user == null ? Credentials.NONE
                : new Credentials(user, password, targetUser, targetPassword);
        String path = uri.path() == null ? "" : uri.path();
        while (path.startsWith("/")) {
            path = path.substring(1);
        }
        while (path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        String target = null;
        int lun = -1;
        if (!path.isEmpty()) {
            int slash = path.lastIndexOf('/');
            if (slash < 0) {
                target = path;
            } else {
                target = path.substring(0, slash);
                String l = path.substring(slash + 1);
                try {
                    lun = Integer.parseInt(l);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("LUN '" + l + "' is not a number in " + uri);
                }
                if (lun < 0 || lun > 0x3fff) {
                    throw new IllegalArgumentException("LUN " + lun + " out of range in " + uri);
                }
            }
            if (target.isEmpty() || target.contains("/")) {
                throw new IllegalArgumentException("bad target name '" + target + "' in " + uri);
            }
        }
        return new IscsiUrl(uri.host(), uri.port(SessionConfig.DEFAULT_PORT), target, lun, credentials,
                digest(uri, "header_digest"), digest(uri, "data_digest"),
                uri.param("initiator_name").orElse(LoginConfig.DEFAULT_INITIATOR), chapAlgorithms(uri));
    }

    private static boolean digest(DeviceUri uri, String key) {
        String v = uri.param(key).orElse("none").toLowerCase();
        return switch (v) {
            case "crc32c" -> true;
            case "none" -> false;
            default -> throw new IllegalArgumentException(key + "=" + v + " (crc32c or none) in " + uri);
        };
    }

    private static List<Chap.Algorithm> chapAlgorithms(DeviceUri uri) {
        String v = uri.param("chap_algorithms").orElse(null);
        if (v == null) {
            return Chap.DEFAULT_OFFER;
        }
        try {
            return Chap.parseList(v);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("chap_algorithms=" + v + ": " + e.getMessage() + " in " + uri);
        }
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    public boolean namesLun() {
        return target != null && lun >= 0;
    }

    public SessionConfig sessionConfig() {
        LoginConfig login = LoginConfig.normal(target, credentials).withDigests(headerDigest, dataDigest)
                .withInitiatorName(initiatorName).withChapAlgorithms(chapAlgorithms);
        return SessionConfig.of(host, port, login);
    }

    /** The URL without secrets, for logs. */
    public String display() {
        return "iscsi://" + (credentials.chap() ? credentials.user() + "@" : "") + host + ":" + port + "/"
                + (target == null ? "" : target + (lun >= 0 ? "/" + lun : ""));
    }
}
