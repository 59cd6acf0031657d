/**
 * The blkif protocol of xen/io/blkif.h: struct layouts for the x86_64 and x86_32 ABIs
 * ({@link io.tapdisk4j.ring.blkif.BlkifLayout}), operation and status numbers, and the codec that decodes
 * private copies of requests and encodes responses.
 */
package io.tapdisk4j.ring.blkif;
