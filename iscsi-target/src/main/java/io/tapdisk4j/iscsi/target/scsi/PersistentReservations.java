package io.tapdisk4j.iscsi.target.scsi;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The persistent reservation state of a logical unit (SPC-4 5.13): registered keys per I_T nexus, the
 * reservation and its holder, the generation counter, and unit attentions the changes leave for other
 * nexuses. Not persisted across restarts (APTPL is not supported). Synchronized: every session's commands
 * check it.
 */
public final class PersistentReservations {

    public static final int WRITE_EXCLUSIVE = 1;
    public static final int EXCLUSIVE_ACCESS = 3;
    public static final int WRITE_EXCLUSIVE_REGISTRANTS_ONLY = 5;
    public static final int EXCLUSIVE_ACCESS_REGISTRANTS_ONLY = 6;
    public static final int WRITE_EXCLUSIVE_ALL_REGISTRANTS = 7;
    public static final int EXCLUSIVE_ACCESS_ALL_REGISTRANTS = 8;

    /** What a command does to the medium, for the conflict rules of SPC-4 table 5.? (5.13.1). */
    public enum Access { NONE, READ, WRITE }

    /** A unit attention waiting for a nexus: asc/ascq. */
    public record Attention(int asc, int ascq) {
    }

    private final Map<Nexus, Long> keys = new LinkedHashMap<>();
    private final Map<Nexus, List<Attention>> attentions = new LinkedHashMap<>();
    private int generation;
    private Nexus holder;
    private int type;

    public synchronized int generation() {
        return generation;
    }

    /** RESERVATION CONFLICT for {@code nexus} doing {@code access}, per the reservation type. */
    public synchronized boolean conflicts(Nexus nexus, Access access) {
        if (type == 0 || access == Access.NONE || isHolder(nexus)) {
            return false;
        }
        boolean registered = keys.containsKey(nexus);
        return switch (type) {
            case WRITE_EXCLUSIVE -> access == Access.WRITE;
            case EXCLUSIVE_ACCESS -> true;
            case WRITE_EXCLUSIVE_REGISTRANTS_ONLY, WRITE_EXCLUSIVE_ALL_REGISTRANTS -> !registered && access == Access.WRITE;
            case EXCLUSIVE_ACCESS_REGISTRANTS_ONLY, EXCLUSIVE_ACCESS_ALL_REGISTRANTS -> !registered;
            default -> false;
        };
    }

    private boolean allRegistrants() {
        return type == WRITE_EXCLUSIVE_ALL_REGISTRANTS || type == EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
    }

    private boolean isHolder(Nexus nexus) {
        if (type == 0) {
            return false;
        }
        return allRegistrants() ? keys.containsKey(nexus) : nexus.equals(holder);
    }

    /** The oldest unit attention waiting for {@code nexus}, removed; null when none. */
    public synchronized Attention takeAttention(Nexus nexus) {
        List<Attention> l = attentions.get(nexus);
        if (l == null || l.isEmpty()) {
            return null;
        }
        return l.removeFirst();
    }

    /** A unit attention for every nexus the target knows of except {@code except} (LUN reset and the like). */
    public synchronized void attentionForOthers(Nexus except, int asc, int ascq) {
        for (Nexus n : attentions.keySet()) {
            if (!n.equals(except)) {
                attentions.get(n).add(new Attention(asc, ascq));
            }
        }
    }

    /** Remembers a nexus so it can be given unit attentions later. */
    public synchronized void seen(Nexus nexus) {
        attentions.computeIfAbsent(nexus, n -> new ArrayList<>());
    }

    private void attention(Nexus n, int asc, int ascq) {
        attentions.computeIfAbsent(n, k -> new ArrayList<>()).add(new Attention(asc, ascq));
    }

    // PERSISTENT RESERVE IN

    public synchronized List<Long> keys() {
        return new ArrayList<>(keys.values());
    }

    /** The reservation: {key, type}, or null. */
    public synchronized long[] reservation() {
        if (type == 0) {
            return null;
        }
        long key = allRegistrants() ? 0 : keys.getOrDefault(holder, 0L);
        return new long[] {key, type};
    }

    /** One registration for READ FULL STATUS: who, which key, and whether it holds the reservation (type). */
    public record Registration(Nexus nexus, long key, boolean holder, int type) {
    }

    public synchronized List<Registration> registrations() {
        List<Registration> out = new ArrayList<>();
        keys.forEach((n, k) -> out.add(new Registration(n, k, isHolder(n), type)));
        return out;
    }

    // PERSISTENT RESERVE OUT

    public synchronized void register(Nexus nexus, long key, long newKey, boolean ignoreExisting) {
        Long current = keys.get(nexus);
        if (current == null) {
            if (!ignoreExisting && key != 0) {
                throw ScsiException.reservationConflict();
            }
            if (newKey != 0) {
                keys.put(nexus, newKey);
                seen(nexus);
                generation++;
            }
            return;
        }
        if (!ignoreExisting && current != key) {
            throw ScsiException.reservationConflict();
        }
        if (newKey != 0) {
            keys.put(nexus, newKey);
            generation++;
            return;
        }
        unregister(nexus);
        generation++;
    }

    private void unregister(Nexus nexus) {
        boolean wasHolder = isHolder(nexus);
        keys.remove(nexus);
        if (!wasHolder) {
            return;
        }
        if (allRegistrants()) {
            if (keys.isEmpty()) {
                clearReservation();
            }
            return;
        }
        int released = type;
        clearReservation();
        if (released == WRITE_EXCLUSIVE_REGISTRANTS_ONLY || released == EXCLUSIVE_ACCESS_REGISTRANTS_ONLY) {
            for (Nexus n : keys.keySet()) {
                attention(n, 0x2a, 0x04); // RESERVATIONS RELEASED
            }
        }
    }

    private void clearReservation() {
        holder = null;
        type = 0;
    }

    private void checkKey(Nexus nexus, long key) {
        Long current = keys.get(nexus);
        if (current == null || current != key) {
            throw ScsiException.reservationConflict();
        }
    }

    private static void checkType(int t) {
        switch (t) {
            case WRITE_EXCLUSIVE, EXCLUSIVE_ACCESS, WRITE_EXCLUSIVE_REGISTRANTS_ONLY, EXCLUSIVE_ACCESS_REGISTRANTS_ONLY,
                 WRITE_EXCLUSIVE_ALL_REGISTRANTS, EXCLUSIVE_ACCESS_ALL_REGISTRANTS -> {
            }
            default -> throw ScsiException.invalidFieldInCdb("reservation type " + t);
        }
    }

    public synchronized void reserve(Nexus nexus, long key, int newType) {
        checkKey(nexus, key);
        checkType(newType);
        if (type == 0) {
            holder = nexus;
            type = newType;
            return;
        }
        if (isHolder(nexus) && type == newType) {
            return;
        }
        throw ScsiException.reservationConflict();
    }

    public synchronized void release(Nexus nexus, long key, int releaseType) {
        checkKey(nexus, key);
        if (type == 0 || !isHolder(nexus)) {
            return;
        }
        if (releaseType != type) {
            throw new ScsiException(Sense.ILLEGAL_REQUEST, 0x26, 0x04, "INVALID RELEASE OF PERSISTENT RESERVATION");
        }
        int released = type;
        clearReservation();
        if (released != WRITE_EXCLUSIVE && released != EXCLUSIVE_ACCESS) {
            for (Nexus n : keys.keySet()) {
                if (!n.equals(nexus)) {
                    attention(n, 0x2a, 0x04);
                }
            }
        }
    }

    public synchronized void clear(Nexus nexus, long key) {
        checkKey(nexus, key);
        for (Nexus n : keys.keySet()) {
            if (!n.equals(nexus)) {
                attention(n, 0x2a, 0x03); // RESERVATIONS PREEMPTED
            }
        }
        keys.clear();
        clearReservation();
        generation++;
    }

    public synchronized void preempt(Nexus nexus, long key, long victimKey, int newType) {
        checkKey(nexus, key);
        if (type != 0 && allRegistrants()) {
            if (victimKey == 0) {
                checkType(newType);
                removeOthersWithKey(nexus, null);
                holder = nexus;
                type = newType;
                generation++;
                return;
            }
            removeOthersWithKey(nexus, victimKey);
            generation++;
            return;
        }
        if (type != 0 && keys.getOrDefault(holder, 0L) == victimKey) {
            checkType(newType);
            removeOthersWithKey(nexus, victimKey);
            holder = nexus;
            type = newType;
            generation++;
            return;
        }
        if (victimKey == 0) {
            throw ScsiException.invalidFieldInParameters("service action reservation key 0");
        }
        if (!removeOthersWithKey(nexus, victimKey)) {
            throw ScsiException.reservationConflict();
        }
        generation++;
    }

    /** Removes every registration of {@code victimKey} (all but {@code keep} when null) except {@code keep}'s own. */
    private boolean removeOthersWithKey(Nexus keep, Long victimKey) {
        boolean any = false;
        for (var it = keys.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (e.getKey().equals(keep) || (victimKey != null && e.getValue().longValue() != victimKey)) {
                continue;
            }
            it.remove();
            attention(e.getKey(), 0x2a, 0x05); // REGISTRATIONS PREEMPTED
            any = true;
        }
        if (victimKey != null && keys.containsKey(keep) && keys.get(keep).longValue() == victimKey) {
            any = true;
        }
        return any;
    }

    /** After an I_T nexus loss nothing changes: registrations survive it (SPC-4 5.13.4). */
    public synchronized boolean registered(Nexus nexus) {
        return keys.containsKey(nexus);
    }
}
