package io.tapdisk4j.ring.backend;

import io.tapdisk4j.ring.hv.HypervisorException;

import java.util.concurrent.CompletableFuture;

/**
 * A running blkif backend for one virtual block device: its rings mapped, its event channels bound, its
 * requests served. The entry point for the control plane (xenbus state machine), the conformance tests,
 * the demo and the benchmarks:
 *
 * <pre>{@code
 * BlkifBackend backend = BlkifBackend.start(BackendSpec.builder(hv, domid, device)
 *         .queues(queues).abi(Abi.fromProtocol(protocol)).build());
 * ...
 * backend.close();   // completes or fails every request in flight, then unmaps and unbinds
 * }</pre>
 *
 * A hostile frontend never makes this throw: malformed requests get error responses; a ring overrun shuts
 * the device down ({@link #shutdown()} completes with the reason, the listener hears it).
 */
public interface BlkifBackend extends AutoCloseable {

    /** {@code max-ring-page-order}: rings of up to 16 pages (512 x86_64 entries). */
    int MAX_RING_PAGE_ORDER = 4;
    /** {@code multi-queue-max-queues}. */
    int MAX_QUEUES = 16;
    /** {@code feature-max-indirect-segments} by default (Linux blkback's value: 1 MiB requests). */
    int DEFAULT_MAX_INDIRECT_SEGMENTS = 256;
    /** The most that fits in BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST pages of segments. */
    int MAX_INDIRECT_SEGMENTS_LIMIT = 8 * 512;

    /**
     * Maps every queue's ring, binds its event channel and starts serving. Fails as a whole (nothing stays
     * mapped or bound) when a ring cannot be mapped or a port cannot be bound.
     */
    static BlkifBackend start(BackendSpec spec) throws HypervisorException {
        return DeviceBackend.start(spec);
    }

    BackendSpec spec();

    /** The data path in use (see {@link BackendSpec#effectiveDataPath()}). */
    DataPath dataPath();

    BackendStats stats();

    /** Completes with the reason when the device was shut down for a fatal frontend error. */
    CompletableFuture<String> shutdown();

    /** Starts closing; the future completes when every request is answered and everything is released. */
    CompletableFuture<Void> closeAsync();

    /**
     * Stops taking requests, waits up to {@link BackendSpec#closeTimeout()} for those in flight (answering
     * any still running after that with BLKIF_RSP_ERROR), then unmaps the rings and unbinds the channels.
     */
    @Override
    void close();
}
