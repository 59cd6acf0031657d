package io.tapdisk4j.safety.race;

import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.testsupport.proxy.Direction;
import io.tapdisk4j.testsupport.proxy.FaultAction;
import io.tapdisk4j.testsupport.proxy.FaultProxy;
import io.tapdisk4j.testsupport.proxy.HeldFrame;
import io.tapdisk4j.testsupport.proxy.ScriptedPolicy;
import io.tapdisk4j.safety.report.ScenarioTally;

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

    static final String SCENARIO = "held-reissue";
    private static final Duration WAIT = Duration.ofSeconds(30);

    private final FaultProxy proxy;
    private final ScriptedPolicy script;
    private final String writeKind;
    private final ScenarioTally scenario;
    private HeldFrame stale;

    /** {@code writeKind}: the frame kind of the backend's write request, for example "NBD_CMD_WRITE". */
    ProxyHoldAndReissue(FaultProxy proxy, ScriptedPolicy script, String writeKind, ScenarioTally scenario) {
        this.proxy = proxy;
        this.script = script;
        this.writeKind = writeKind;
        this.scenario = scenario;
    }

    @Override
    public void beforeFirstWrite(RaceRig.Issued issued) {
        script.once(ScriptedPolicy.kind(Direction.TO_SERVER, writeKind), FaultAction.HOLD);
    }

    @Override
    public void whileFirstWriteInFlight(CompletableFuture<BlkifResponse> first) throws Exception {
        stale = proxy.awaitHeld(WAIT);
        HeldFrame held = stale;
        script.once(e -> e.connection() == held.connection() && e.direction() == Direction.TO_CLIENT
                && e.tag() == held.tag(), FaultAction.HOLD);
        held.connection().cutClientSide();
        proxy.countFault();
    }

    @Override
    public void afterReuse() throws Exception {
        scenario.trial();
        if (!stale.release().get(30, TimeUnit.SECONDS)) {
            throw new AssertionError("the stale request's upstream connection closed before its release");
        }
        HeldFrame reply = proxy.awaitHeld(WAIT); // the server answered the stale request: it was applied
        reply.discard();
        // The proxy captured the request at its first transmission, so it carries what the guest issued.
        scenario.recordDelivered(true);
        stale.connection().cut();
        stale = null;
    }
}
