/**
 * The blkif backend: {@link io.tapdisk4j.ring.backend.BlkifBackend#start} serves one virtual block device
 * described by a {@link io.tapdisk4j.ring.backend.BackendSpec}.
 *
 * <h2>Per ring ({@code RingServer}), all on one event loop</h2>
 * <ol>
 *   <li>Read {@code req_prod} (acquire); a frontend more than a ring ahead of our responses is bogus and
 *       the device shuts down (Linux blkback's RING_REQUEST_PROD_OVERFLOW).</li>
 *   <li>Copy each request out of the shared page in one pass into private memory, then decode and validate
 *       only that copy (the XSA-155 double-fetch class cannot happen). Indirect segment pages are fetched
 *       by grant copy into private memory too ({@code IndirectSegments}); one {@code RequestValidator}
 *       call per request, from the {@code RequestDispatcher}.</li>
 *   <li>Move the payload by the data path's {@code SegmentMover}: one grant-copy batch per request
 *       ({@code copy}), a mapping per request ({@code map-copy}), long-lived mappings ({@code persistent}),
 *       or the mapped pages themselves ({@code unsafe-map}, writes only). Reads are copied to the guest only
 *       from the buffer the device returned, and only when it is complete ({@code DataTransfer}).</li>
 *   <li>Answer in completion order with the request's id and operation (the indirect_op for INDIRECT,
 *       which blkfront checks); the {@code ResponsePublisher} publishes and notifies the guest only when
 *       it asked ({@code rsp_event}).</li>
 * </ol>
 * Devices that complete inline (memory, null) cost no thread hop; others hop back to the ring's loop once
 * per completion. Any malformed request is answered with BLKIF_RSP_ERROR or BLKIF_RSP_EOPNOTSUPP and a
 * rate-limited log line; nothing a guest writes throws out of the loop.
 */
package io.tapdisk4j.ring.backend;
