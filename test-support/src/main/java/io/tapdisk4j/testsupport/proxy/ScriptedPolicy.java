package io.tapdisk4j.testsupport.proxy;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * A per-test script: rules tried in order, each firing for a limited number of matching frames; frames no
 * rule takes are forwarded. Rules can be added while traffic flows.
 */
public final class ScriptedPolicy implements FaultPolicy {

    private final List<Rule> rules = new ArrayList<>();

    private static final class Rule {
        final Predicate<FrameEvent> match;
        final FaultAction action;
        int remaining;

        Rule(Predicate<FrameEvent> match, FaultAction action, int times) {
            this.match = match;
            this.action = action;
            this.remaining = times;
        }
    }

    /** Applies {@code action} to the next {@code times} frames matching {@code match}. */
    public synchronized ScriptedPolicy on(Predicate<FrameEvent> match, FaultAction action, int times) {
        rules.add(new Rule(match, action, times));
        return this;
    }

    /** Applies {@code action} to the next frame matching {@code match}. */
    public ScriptedPolicy once(Predicate<FrameEvent> match, FaultAction action) {
        return on(match, action, 1);
    }

    public ScriptedPolicy always(Predicate<FrameEvent> match, FaultAction action) {
        return on(match, action, Integer.MAX_VALUE);
    }

    public synchronized void clear() {
        rules.clear();
    }

    @Override
    public synchronized FaultAction decide(FrameEvent event) {
        for (Rule r : rules) {
            if (r.remaining > 0 && r.match.test(event)) {
                r.remaining--;
                return r.action;
            }
        }
        return FaultAction.FORWARD;
    }

    /** Frames of this kind (for example "NBD_CMD_WRITE") in this direction. */
    public static Predicate<FrameEvent> kind(Direction direction, String kind) {
        return e -> e.direction() == direction && e.kind().equals(kind);
    }

    public static Predicate<FrameEvent> direction(Direction direction) {
        return e -> e.direction() == direction;
    }

    public static Predicate<FrameEvent> connection(int index) {
        return e -> e.connection().index() == index;
    }
}
