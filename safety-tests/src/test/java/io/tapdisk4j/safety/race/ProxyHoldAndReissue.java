package io.tapdisk4j.safety.race;

import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.safety.proxy.Direction;
import io.tapdisk4j.safety.proxy.FaultProxy;
import io.tapdisk4j.safety.proxy.HeldFrame;
import io.tapdisk4j.safety.proxy.ScriptedPolicy;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The network half of the race, scripted on the fault proxy: the first transmission of write A is held;
 * the client's connection is cut (its upstream twin stays open with the held request), so the client
 * reconnects and reissues A, which completes; the guest reuses its page; then the stale transmission is
 * released to the server, and its reply (proof the server applied it) is caught and dropped.
 */
final class ProxyHoldAndReissue implements RaceRig.Faults {

    private static final Duration WAIT = Duration.ofSeconds(30);

    private final FaultProxy proxy;
    private final ScriptedPolicy script;
    private final String writeKind;
    private HeldFrame stale;

    /** {@code writeKind}: the frame kind of the backend's write request, for example "NBD_CMD_WRITE". */
    ProxyHoldAndReissue(FaultProxy proxy, ScriptedPolicy script, String writeKind) {
        this.proxy = proxy;
        this.script = script;
        this.writeKind = writeKind;
    }

    @Override
    public void beforeFirstWrite() {
        script.once(ScriptedPolicy.kind(Direction.TO_SERVER, writeKind), io.tapdisk4j.safety.proxy.FaultAction.HOLD);
    }

    @Override
    public void whileFirstWriteInFlight(CompletableFuture<BlkifResponse> first) throws Exception {
        stale = proxy.awaitHeld(WAIT);
        HeldFrame held = stale;
        script.once(e -> e.connection() == held.connection() && e.direction() == Direction.TO_CLIENT
                && e.tag() == held.tag(), io.tapdisk4j.safety.proxy.FaultAction.HOLD);
        held.connection().cutClientSide();
        proxy.countFault();
    }

    @Override
    public void afterReuse() throws Exception {
        if (!stale.release().get(30, TimeUnit.SECONDS)) {
            throw new AssertionError("the stale request's upstream connection closed before its release");
        }
        HeldFrame reply = proxy.awaitHeld(WAIT); // the server answered the stale request: it was applied
        reply.discard();
        stale = null;
    }
}
