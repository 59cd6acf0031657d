/**
 * The simulated hypervisor of ../shared/sim-xen-abi.md: {@link io.tapdisk4j.ring.hv.sim.SimHypervisor} is
 * dom0's side (grant copy and grant map over the guests' memory and grant-table files, event channels as
 * Unix sockets on the shared Netty loops), {@link io.tapdisk4j.ring.hv.sim.SimGuest} the guest's side
 * (memory, grants, unbound ports). Any program following the contract can be either side.
 */
package io.tapdisk4j.ring.hv.sim;
