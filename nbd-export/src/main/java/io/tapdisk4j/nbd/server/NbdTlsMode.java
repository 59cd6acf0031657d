package io.tapdisk4j.nbd.server;

/** {@code --tls off|on|require}: whether STARTTLS is offered, and whether anything else is answered before it. */
public enum NbdTlsMode {
    OFF, ON, REQUIRE;

    public static NbdTlsMode parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "off", "no", "false" -> OFF;
            case "on", "yes", "true" -> ON;
            case "require", "required" -> REQUIRE;
            default -> throw new IllegalArgumentException("--tls must be off, on or require, not '" + s + "'");
        };
    }
}
