package io.tapdisk4j.iscsi.login;

/**
 * CHAP secrets: {@code user}/{@code secret} authenticate the initiator to the target (one-way);
 * {@code targetUser}/{@code targetSecret}, when set, make the target prove itself too (mutual CHAP).
 */
public record Credentials(String user, String secret, String targetUser, String targetSecret) {

    public static final Credentials NONE = new Credentials(null, null, null, null);

    public static Credentials oneWay(String user, String secret) {
        return new Credentials(user, secret, null, null);
    }

    public static Credentials mutual(String user, String secret, String targetUser, String targetSecret) {
        return new Credentials(user, secret, targetUser, targetSecret);
    }

    public boolean chap() {
        return user != null;
    }

    public boolean mutualChap() {
        return targetUser != null;
    }

    public Credentials {
        if (user != null && secret == null) {
            throw new IllegalArgumentException("CHAP user " + user + " without a secret");
        }
        if (targetUser != null && (targetSecret == null || user == null)) {
            throw new IllegalArgumentException("mutual CHAP needs the initiator's and the target's user and secret");
        }
    }

    @Override
    public String toString() {
        return chap() ? "CHAP(" + user + (mutualChap() ? ", target " + targetUser : "") + ")" : "none";
    }
}
