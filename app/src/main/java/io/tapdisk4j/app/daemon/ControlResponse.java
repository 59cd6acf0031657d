package io.tapdisk4j.app.daemon;

/** A control-socket answer: on the wire, "ok" or "error" on the first line, then the body. */
public record ControlResponse(boolean ok, String body) {

    String encode() {
        return (ok ? "ok" : "error") + "\n" + body + (body.endsWith("\n") ? "" : "\n");
    }

    static ControlResponse decode(String wire) {
        int nl = wire.indexOf('\n');
        String status = nl < 0 ? wire : wire.substring(0, nl);
        String body = nl < 0 ? "" : wire.substring(nl + 1);
        if (status.equals("ok")) {
            return new ControlResponse(true, body);
        }
        if (status.equals("error")) {
            return new ControlResponse(false, body);
        }
        return new ControlResponse(false, "malformed answer from the daemon: " + status + "\n");
    }
}
