package io.tapdisk4j.testsupport.proxy;

/** Which way a message travels through the proxy. */
public enum Direction {
    /** Client (the backend under test) to the real server: requests. */
    TO_SERVER,
    /** Real server to client: replies. */
    TO_CLIENT
}
