package io.tapdisk4j.ring.xenstore;

/**
 * An open xenstore transaction: every operation sees one consistent snapshot, and {@link #commit()} applies
 * them all or fails with {@link XsConflictException} (EAGAIN) when something they read or wrote changed
 * meanwhile. Use {@link XsClient#transaction} to get the retry loop for free.
 */
public final class XsTransaction implements XsOps, AutoCloseable {

    private final XsClient client;
    private final int id;
    private boolean ended;

    XsTransaction(XsClient client, int id) {
        this.client = client;
        this.id = id;
    }

    public int id() {
        return id;
    }

    @Override
    public XsMessage call(XsType type, byte[] payload) throws XsException {
        if (ended) {
            throw new IllegalStateException("transaction " + Integer.toUnsignedString(id) + " has ended");
        }
        return client.call(type, id, payload);
    }

    /** Applies the transaction; throws {@link XsConflictException} when it must be retried. */
    public void commit() throws XsException {
        end(true);
    }

    /** Discards the transaction's changes. */
    public void abort() throws XsException {
        end(false);
    }

    private void end(boolean commit) throws XsException {
        if (ended) {
            return;
        }
        ended = true;
        client.call(XsType.TRANSACTION_END, id, XsMessage.strings(commit ? "T" : "F"));
    }

    /** Aborts unless committed; a connection already gone has dropped the transaction anyway. */
    @Override
    public void close() {
        if (!ended) {
            try {
                abort();
            } catch (XsException ignored) {
                // The transaction is dead either way: xenstored drops it with the connection.
            }
        }
    }
}
