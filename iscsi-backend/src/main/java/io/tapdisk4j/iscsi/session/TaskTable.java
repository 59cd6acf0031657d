package io.tapdisk4j.iscsi.session;

import io.tapdisk4j.iscsi.pdu.Pdu;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;

/** The tasks in flight by Initiator Task Tag, and the tags handed out. Loop-confined. */
final class TaskTable {

    private final Map<Integer, Task> inFlight = new HashMap<>();
    private int nextItt;

    TaskTable() {
        this(1);
    }

    /** A table whose first tag is {@code firstItt} (tests start near the wrap). */
    TaskTable(int firstItt) {
        this.nextItt = firstItt;
    }

    /**
     * A free tag: never 0 or the reserved 0xffffffff, never one in flight here or one {@code usedElsewhere}
     * (task management, the keepalive ping).
     */
    int allocate(IntPredicate usedElsewhere) {
        int itt;
        do {
            itt = nextItt++;
        } while (itt == Pdu.RESERVED_TAG || itt == 0 || inFlight.containsKey(itt) || usedElsewhere.test(itt));
        return itt;
    }

    /** Records {@code t} under its tag, which must be set. */
    void add(Task t) {
        inFlight.put(t.itt, t);
    }

    Task get(int itt) {
        return inFlight.get(itt);
    }

    /** Whether {@code t} is still the task in flight under its tag. */
    boolean holds(Task t) {
        return inFlight.get(t.itt) == t;
    }

    void remove(Task t) {
        inFlight.remove(t.itt);
    }

    boolean isEmpty() {
        return inFlight.isEmpty();
    }

    int size() {
        return inFlight.size();
    }

    Collection<Task> tasks() {
        return inFlight.values();
    }

    /** The tasks addressed to {@code lun}. */
    List<Task> onLun(int lun) {
        List<Task> found = new ArrayList<>();
        for (Task t : inFlight.values()) {
            if (t.command.lun() == lun) {
                found.add(t);
            }
        }
        return found;
    }

    /** The tasks not being aborted that were sent more than {@code timeoutNanos} before {@code now}. */
    List<Task> late(long now, long timeoutNanos) {
        List<Task> late = new ArrayList<>();
        for (Task t : inFlight.values()) {
            if (!t.aborting && now - t.sentNanos > timeoutNanos) {
                late.add(t);
            }
        }
        return late;
    }

    /** Empties the table, returning what it held. */
    List<Task> drain() {
        List<Task> all = new ArrayList<>(inFlight.values());
        inFlight.clear();
        return all;
    }
}
