package io.tapdisk4j.iscsi.session;

import io.tapdisk4j.iscsi.login.LoginConfig;

import java.time.Duration;

/**
 * A session to one target portal. Timeouts: {@code commandTimeout} before ABORT TASK (and LUN RESET when
 * the abort itself is not answered), {@code nopInterval}/{@code nopTimeout} for the keepalive that notices
 * a dead connection, {@code recoveryTimeout}: how long to keep logging in again before failing the
 * commands held. {@code maxRetries}: reissues of one command (unit attention, abort, busy).
 */
public record SessionConfig(String host, int port, LoginConfig login, Duration loginTimeout, Duration commandTimeout,
                            Duration nopInterval, Duration nopTimeout, Duration recoveryTimeout, int maxRetries) {

    public static final int DEFAULT_PORT = 3260;

    public static SessionConfig of(String host, int port, LoginConfig login) {
        return new SessionConfig(host, port, login, Duration.ofSeconds(15), Duration.ofSeconds(30),
                Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(120), 5);
    }

    public SessionConfig withTimeouts(Duration command, Duration nopInterval, Duration nopTimeout, Duration recovery) {
        return new SessionConfig(host, port, login, loginTimeout, command, nopInterval, nopTimeout, recovery, maxRetries);
    }

    public SessionConfig withLogin(LoginConfig l) {
        return new SessionConfig(host, port, l, loginTimeout, commandTimeout, nopInterval, nopTimeout, recoveryTimeout, maxRetries);
    }

    public String portal() {
        return host + ":" + port;
    }
}
