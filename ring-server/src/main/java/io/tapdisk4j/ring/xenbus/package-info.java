/**
 * The xenbus handshake for vbd3 devices, both sides.
 *
 * <p>Backend: {@link io.tapdisk4j.ring.xenbus.Tapback} watches /local/domain/0/backend/vbd3 and runs one
 * level-triggered state machine per device ({@code VbdDevice}): open {@code params}, advertise features,
 * InitWait; read the frontend's rings ({@code FrontendRings}: single page, multi-page, multi-queue,
 * protocol, persistent grants); start the ring server; write the geometry; Connected; drain and close on
 * Closing/Closed; reconnect from Initialising; release on {@code online = 0} or removal. Fatal errors are
 * written as Linux blkback writes them ("errno message" under the backend's {@code error} node and
 * /local/domain/0/error/...) and the device moves to Closing; other devices are never affected.
 *
 * <p>Guest and toolstack side, for the simulated hypervisor: {@link io.tapdisk4j.ring.xenbus.Toolstack}
 * creates and removes devices; {@link io.tapdisk4j.ring.xenbus.BlkfrontXenbus} drives the Java blkfront
 * emulator through the same handshake a Linux blkfront does.
 */
package io.tapdisk4j.ring.xenbus;
