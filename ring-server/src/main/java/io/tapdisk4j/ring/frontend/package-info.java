/**
 * {@link io.tapdisk4j.ring.frontend.BlkfrontEmulator}: a guest's blkfront in Java over the simulated
 * hypervisor, for tests, the demo, the benchmarks and the safety suite (raw and racing requests, overruns,
 * grant revocation).
 */
package io.tapdisk4j.ring.frontend;
