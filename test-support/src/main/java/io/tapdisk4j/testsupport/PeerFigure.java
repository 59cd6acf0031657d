package io.tapdisk4j.testsupport;

import java.util.Locale;

/**
 * One side-by-side benchmark figure: tapdisk4j and a real peer on the same work in the same run.
 * {@code ratio()} is always "tapdisk4j relative to the peer", above 1 when tapdisk4j does better.
 */
public record PeerFigure(String area, String work, String peer, double ours, double theirs, String unit,
                         boolean higherIsBetter) {

    public double ratio() {
        return higherIsBetter ? ours / theirs : theirs / ours;
    }

    public String row() {
        return String.format(Locale.ROOT, "| %s | %s | %s | %.3g %s | %.3g %s | %.2f |", area, work, peer, ours, unit,
                theirs, unit, ratio());
    }

    /** The figure from each side's rounds: their medians. */
    public static PeerFigure ofMedians(String area, String work, String peer, double[] ours, double[] theirs, String unit,
                                       boolean higherIsBetter) {
        return new PeerFigure(area, work, peer, Medians.of(ours), Medians.of(theirs), unit, higherIsBetter);
    }

    public static String header() {
        return "| area | work | peer | tapdisk4j | peer | ratio (>1: tapdisk4j better) |\n|---|---|---|---|---|---|";
    }
}
