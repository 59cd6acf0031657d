/**
 * The xenstore wire protocol (xen/io/xs_wire.h) and a client for it.
 *
 * <p>{@link io.tapdisk4j.ring.xenstore.XsMessage} is one {@code xsd_sockmsg} (16-byte little-endian header:
 * type, req_id, tx_id, len; payload at most 4096 bytes), framed by {@link io.tapdisk4j.ring.xenstore.XsDecoder}
 * (an impossible length closes the connection: the stream cannot be resynchronised) and written by
 * {@link io.tapdisk4j.ring.xenstore.XsEncoder}. {@link io.tapdisk4j.ring.xenstore.XsClient} reaches a real
 * xenstored at /var/run/xenstored/socket or the simulated one at DIR/xenstored.sock: pipelined requests by
 * req_id, watches by token, transactions retried on EAGAIN, ERROR strings as exceptions
 * ({@link io.tapdisk4j.ring.xenstore.XsNoEntryException}, {@link io.tapdisk4j.ring.xenstore.XsConflictException}),
 * and reconnection that re-registers every watch.
 */
package io.tapdisk4j.ring.xenstore;
