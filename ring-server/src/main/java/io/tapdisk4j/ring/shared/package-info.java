/**
 * Shared rings as xen/io/ring.h defines them: free-running u32 indexes, power-of-two sizes, the
 * notification rules of RING_PUSH_*_AND_CHECK_NOTIFY and RING_FINAL_CHECK_FOR_*, with acquire/release and
 * full fences on the shared page, over pages that need not be adjacent in dom0.
 */
package io.tapdisk4j.ring.shared;
