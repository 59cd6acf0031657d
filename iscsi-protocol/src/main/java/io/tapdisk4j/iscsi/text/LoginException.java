package io.tapdisk4j.iscsi.text;

import java.io.IOException;

/**
 * A failed login or text exchange. {@code statusClass}/{@code statusDetail} are the target's Login
 * Response status (RFC 7143 11.13.5) when it refused, or -1 when the initiator gave up on its own.
 */
public final class LoginException extends IOException {

    private final int statusClass;
    private final int statusDetail;
    private final Chap.Algorithm refusedChapAlgorithm;

    public LoginException(String message) {
        this(message, -1, -1);
    }

    public LoginException(String message, int statusClass, int statusDetail) {
        this(message, statusClass, statusDetail, null);
    }

    public LoginException(String message, int statusClass, int statusDetail, Chap.Algorithm refusedChapAlgorithm) {
        super(message);
        this.statusClass = statusClass;
        this.statusDetail = statusDetail;
        this.refusedChapAlgorithm = refusedChapAlgorithm;
    }

    /**
     * The CHAP algorithm the target chose and then refused our response for (null when the login failed
     * otherwise): a wrong secret, or a target that computes that algorithm differently (tgt's "7").
     */
    public Chap.Algorithm refusedChapAlgorithm() {
        return refusedChapAlgorithm;
    }

    public int statusClass() {
        return statusClass;
    }

    public int statusDetail() {
        return statusDetail;
    }

    /** Authentication or authorization refused (0x0201, 0x0202), or our own check of the target failed. */
    public boolean authenticationFailure() {
        return statusClass == 2 && (statusDetail == 1 || statusDetail == 2);
    }

    /** Worth trying again later: the target is out of resources or temporarily unavailable (class 3). */
    public boolean transientFailure() {
        return statusClass == 3;
    }

    public static String describe(int statusClass, int statusDetail) {
        int code = (statusClass << 8) | statusDetail;
        return switch (code) {
            case 0x0101 -> "target moved temporarily";
            case 0x0102 -> "target moved permanently";
            case 0x0200 -> "initiator error";
            case 0x0201 -> "authentication failure";
            case 0x0202 -> "authorization failure";
            case 0x0203 -> "target not found";
            case 0x0204 -> "target removed";
            case 0x0205 -> "unsupported version";
            case 0x0206 -> "too many connections";
            case 0x0207 -> "missing parameter";
            case 0x0208 -> "cannot include connection in session";
            case 0x0209 -> "session type not supported";
            case 0x020a -> "session does not exist";
            case 0x020b -> "invalid request during login";
            case 0x0300 -> "target error";
            case 0x0301 -> "service unavailable";
            case 0x0302 -> "out of resources";
            default -> String.format("status 0x%04x", code);
        };
    }
}
