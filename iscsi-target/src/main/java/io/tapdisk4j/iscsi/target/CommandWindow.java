package io.tapdisk4j.iscsi.target;

import io.tapdisk4j.iscsi.pdu.Pdu;

import java.util.HashMap;
import java.util.Map;

/**
 * Command numbering of a session (RFC 7143 4.2.2.1): ExpCmdSN and MaxCmdSN, in serial number arithmetic.
 * A command numbered ExpCmdSN runs now; one ahead within the window waits for the gap to fill; anything
 * outside the window is dropped unanswered, as the standard says. The window bounds the commands an
 * initiator can have outstanding.
 */
final class CommandWindow {

    enum Verdict { NOW, HELD, DROPPED }

    private final int size;
    private int expCmdSN;
    private final Map<Integer, Pdu> held = new HashMap<>();

    CommandWindow(int firstCmdSN, int size) {
        this.expCmdSN = firstCmdSN;
        this.size = size;
    }

    int expCmdSN() {
        return expCmdSN;
    }

    int maxCmdSN() {
        return expCmdSN + size - 1;
    }

    /** Judges a non-immediate command; NOW advances ExpCmdSN, HELD keeps (a reference to) the PDU. */
    Verdict offer(Pdu pdu, int cmdSN) {
        int ahead = cmdSN - expCmdSN;
        if (ahead == 0) {
            expCmdSN++;
            return Verdict.NOW;
        }
        if (ahead > 0 && ahead < size && !held.containsKey(cmdSN)) {
            held.put(cmdSN, pdu.retain());
            return Verdict.HELD;
        }
        return Verdict.DROPPED;
    }

    /** The held command that is now next, ExpCmdSN advanced past it (the caller owns it); null when none. */
    Pdu next() {
        Pdu p = held.remove(expCmdSN);
        if (p != null) {
            expCmdSN++;
        }
        return p;
    }

    void clear() {
        held.values().forEach(Pdu::release);
        held.clear();
    }
}
