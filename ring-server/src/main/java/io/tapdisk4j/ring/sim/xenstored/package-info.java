/**
 * The simulated hypervisor's xenstored ({@link io.tapdisk4j.ring.sim.xenstored.SimXenstored}): production
 * code used by {@code serve --sim}, the demo and the tests, and checked against real clients
 * (xenstore-utils/libxenstore, python3-pyxs). {@code XsStore} holds the semantics: an immutable tree
 * (path-copied on change, so a transaction's snapshot is its starting root), watches that fire on
 * registration and on every change at or below their path (and below a removed node), optimistic
 * transactions that fail with EAGAIN when anything they touched changed, permissions kept and reported,
 * DIRECTORY_PART for long child lists, and the connection-level requests real clients send.
 */
package io.tapdisk4j.ring.sim.xenstored;
