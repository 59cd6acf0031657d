package io.tapdisk4j.ring.xenstore;

/** A registered watch; closing it sends UNWATCH. */
public final class XsWatch implements AutoCloseable {

    private final XsClient client;
    private final String path;
    private final String token;

    XsWatch(XsClient client, String path, String token) {
        this.client = client;
        this.path = path;
        this.token = token;
    }

    public String path() {
        return path;
    }

    public String token() {
        return token;
    }

    @Override
    public void close() {
        client.unwatch(this);
    }
}
