package io.tapdisk4j.testsupport;

import java.util.Arrays;

/** The median of a benchmark's rounds: what every side-by-side figure reports. */
public final class Medians {

    private Medians() {
    }

    /** The middle value (the mean of the two middle ones for an even count); {@code v} is left as it was. */
    public static double of(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
