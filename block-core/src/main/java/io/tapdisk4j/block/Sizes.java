package io.tapdisk4j.block;

import java.util.Locale;

/** Human sizes: {@code 512}, {@code 4k}, {@code 64KiB}, {@code 10G}, {@code 1.5T} (binary multiples). */
public final class Sizes {

    private Sizes() {
    }

    public static long parse(String text) {
        String s = text.trim().toLowerCase(Locale.ROOT);
        if (s.endsWith("ib")) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("b") && s.length() > 1 && !Character.isDigit(s.charAt(s.length() - 2))) {
            s = s.substring(0, s.length() - 1);
        } else if (s.endsWith("b")) {
            s = s.substring(0, s.length() - 1);
        }
        if (s.isEmpty()) {
            throw new IllegalArgumentException("empty size");
        }
        int shift = switch (s.charAt(s.length() - 1)) {
            case 'k' -> 10;
            case 'm' -> 20;
            case 'g' -> 30;
            case 't' -> 40;
            case 'p' -> 50;
            default -> 0;
        };
        String number = shift == 0 ? s : s.substring(0, s.length() - 1);
        try {
            if (number.contains(".")) {
                double d = Double.parseDouble(number) * (1L << shift);
                if (d < 0 || d > Long.MAX_VALUE) {
                    throw new NumberFormatException();
                }
                return (long) d;
            }
            long n = Long.parseLong(number);
            if (n < 0 || (shift > 0 && n > (Long.MAX_VALUE >> shift))) {
                throw new NumberFormatException();
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a size: '" + text + "' (examples: 4096, 64K, 10G)");
        }
    }

    public static String format(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
