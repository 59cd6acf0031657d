package io.tapdisk4j.safety.report;

import java.util.concurrent.atomic.AtomicLong;

/**
 * What one network scenario did within a report row: in how many trials a stale copy of the guest's write
 * (the first transmission, left behind on a connection the client gave up on) reached the server after the
 * reissued request had completed and the guest had rewritten its page, how many of those copies carried
 * other data than the guest had written when it issued the request, and how many never reached the server
 * (dropped with the client's connection, or refused by the server). A trial's corruption of stored data is
 * counted in the row itself.
 */
public final class ScenarioTally {

    private final AtomicLong trials = new AtomicLong();
    private final AtomicLong staleDelivered = new AtomicLong();
    private final AtomicLong staleCarriedLaterData = new AtomicLong();
    private final AtomicLong staleNotDelivered = new AtomicLong();
    private volatile String note;

    public void trial() {
        trials.incrementAndGet();
    }

    public void recordDelivered(boolean carriedIssuedData) {
        staleDelivered.incrementAndGet();
        if (!carriedIssuedData) {
            staleCarriedLaterData.incrementAndGet();
        }
    }

    public void recordNotDelivered() {
        staleNotDelivered.incrementAndGet();
    }

    /** A sentence for the report: what this scenario can and cannot show in this row, and why. */
    public void note(String text) {
        this.note = text;
    }

    public long trials() {
        return trials.get();
    }

    public long staleDelivered() {
        return staleDelivered.get();
    }

    public long staleCarriedLaterData() {
        return staleCarriedLaterData.get();
    }

    public long staleNotDelivered() {
        return staleNotDelivered.get();
    }

    public String note() {
        return note;
    }

    String json() {
        String n = note;
        return "{\"trials\": " + trials() + ", \"staleDelivered\": " + staleDelivered()
                + ", \"staleCarriedLaterData\": " + staleCarriedLaterData() + ", \"staleNotDelivered\": "
                + staleNotDelivered() + (n == null ? "" : ", \"note\": \"" + escape(n) + "\"") + "}";
    }

    static String escape(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.toString();
    }

    @Override
    public String toString() {
        return "trials=" + trials() + " staleDelivered=" + staleDelivered() + " staleCarriedLaterData="
                + staleCarriedLaterData() + " staleNotDelivered=" + staleNotDelivered();
    }
}
