package io.tapdisk4j.app.daemon;

/** The little JSON the control socket writes (objects, arrays, strings, numbers), without a library. */
final class Json {

    private final StringBuilder out = new StringBuilder();
    private boolean needComma;

    Json beginObject() {
        comma();
        out.append('{');
        needComma = false;
        return this;
    }

    Json endObject() {
        out.append('}');
        needComma = true;
        return this;
    }

    Json beginArray() {
        comma();
        out.append('[');
        needComma = false;
        return this;
    }

    Json endArray() {
        out.append(']');
        needComma = true;
        return this;
    }

    Json name(String name) {
        comma();
        string(name);
        out.append(':');
        needComma = false;
        return this;
    }

    Json value(String s) {
        comma();
        if (s == null) {
            out.append("null");
        } else {
            string(s);
        }
        needComma = true;
        return this;
    }

    Json value(long n) {
        comma();
        out.append(n);
        needComma = true;
        return this;
    }

    Json value(double d) {
        comma();
        out.append(Double.isFinite(d) ? Double.toString(d) : "null");
        needComma = true;
        return this;
    }

    Json field(String name, String v) {
        return name(name).value(v);
    }

    Json field(String name, long v) {
        return name(name).value(v);
    }

    Json field(String name, double v) {
        return name(name).value(v);
    }

    private void comma() {
        if (needComma) {
            out.append(',');
        }
    }

    private void string(String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    @Override
    public String toString() {
        return out.toString();
    }
}
