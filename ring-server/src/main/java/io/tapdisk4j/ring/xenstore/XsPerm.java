package io.tapdisk4j.ring.xenstore;

import java.util.ArrayList;
import java.util.List;

/**
 * One xenstore permission as it travels in GET_PERMS/SET_PERMS: a letter and a domain id, "n0", "r5", "w3",
 * "b7". The first entry of a node's list names its owner (who may do anything) and the access every domain
 * not listed gets.
 */
public record XsPerm(Access access, int domid) {

    public enum Access {
        NONE('n'), READ('r'), WRITE('w'), BOTH('b');

        final char letter;

        Access(char letter) {
            this.letter = letter;
        }

        static Access of(char c) {
            for (Access a : values()) {
                if (a.letter == c) {
                    return a;
                }
            }
            return null;
        }
    }

    public XsPerm {
        if (domid < 0 || domid > 0xFFFF) {
            throw new IllegalArgumentException("domain id out of range: " + domid);
        }
    }

    /** Parses "w5"; throws IllegalArgumentException for anything else. */
    public static XsPerm parse(String s) {
        if (s.length() < 2 || Access.of(s.charAt(0)) == null) {
            throw new IllegalArgumentException("bad xenstore permission '" + s + "'");
        }
        int domid;
        try {
            domid = Integer.parseInt(s.substring(1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad xenstore permission '" + s + "'");
        }
        if (!Character.isDigit(s.charAt(1))) {
            throw new IllegalArgumentException("bad xenstore permission '" + s + "'");
        }
        return new XsPerm(Access.of(s.charAt(0)), domid);
    }

    public static List<XsPerm> parseAll(List<String> items) {
        List<XsPerm> out = new ArrayList<>(items.size());
        for (String s : items) {
            out.add(parse(s));
        }
        return out;
    }

    @Override
    public String toString() {
        return access.letter + Integer.toString(domid);
    }
}
