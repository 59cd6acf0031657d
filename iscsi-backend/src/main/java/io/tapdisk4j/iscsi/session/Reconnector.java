package io.tapdisk4j.iscsi.session;

import io.netty.channel.EventLoop;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.iscsi.login.LoginConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Session reinstatement at ErrorRecoveryLevel 0 (RFC 7143 6.3.5): logs in again with the same ISID and TSIH 0,
 * so the target ends whatever the old session held, retrying with {@link ReconnectBackoff} until it succeeds or
 * the recovery time runs out. Every failure is retried, refusals included: a restarting target listens before
 * its targets and accounts are configured ("target not found"). Callbacks run on the loop.
 */
final class Reconnector {

    private static final Logger LOG = LoggerFactory.getLogger(Reconnector.class);

    private final EventLoop loop;
    private final SessionConfig config;
    private final byte[] isid;
    private final String target;
    private final ReconnectBackoff backoff;

    Reconnector(EventLoop loop, SessionConfig config, byte[] isid, String target) {
        this.loop = loop;
        this.config = config;
        this.isid = isid;
        this.target = target;
        this.backoff = new ReconnectBackoff(config.recoveryTimeout().toNanos());
    }

    /**
     * Logs in with {@code login} until a connection is up ({@code loggedIn}) or the deadline passes
     * ({@code gaveUp}, with the last failure). Stops, closing any connection it made, once {@code wanted} is false.
     */
    void start(LoginConfig login, BooleanSupplier wanted, Consumer<Connection> loggedIn, Consumer<Throwable> gaveUp) {
        backoff.start(System.nanoTime());
        attempt(login, wanted, loggedIn, gaveUp);
    }

    private void attempt(LoginConfig login, BooleanSupplier wanted, Consumer<Connection> loggedIn,
                         Consumer<Throwable> gaveUp) {
        if (!wanted.getAsBoolean()) {
            return;
        }
        Connector.connect(loop, config.host(), config.port(), login, isid, 1, config.loginTimeout())
                .whenComplete((c, err) -> loop.execute(() -> {
                    if (!wanted.getAsBoolean()) {
                        if (c != null) {
                            c.channel().close();
                        }
                        return;
                    }
                    if (err == null) {
                        loggedIn.accept(c);
                        return;
                    }
                    Throwable cause = BlockDeviceException.unwrap(err);
                    if (backoff.expired(System.nanoTime())) {
                        LOG.error("{}: giving up reconnecting: {}", target, cause.getMessage());
                        gaveUp.accept(cause);
                        return;
                    }
                    long delay = backoff.nextDelayMillis();
                    LOG.debug("{}: reconnect failed ({}), next try in {} ms", target, cause.getMessage(), delay);
                    loop.schedule(() -> attempt(login, wanted, loggedIn, gaveUp), delay, TimeUnit.MILLISECONDS);
                }));
    }
}
