package io.tapdisk4j.ring.xenstore;

/** The body of a transaction for {@link XsClient#transaction}: may run several times (after EAGAIN). */
@FunctionalInterface
public interface XsTxBody<T> {
    T run(XsTransaction tx) throws XsException;
}
