package io.tapdisk4j.ring.hv;

/**
 * What the ring server needs from Xen: grant copy, grant map, and inter-domain event channels.
 * Two implementations: {@code sim} (files and Unix sockets, ../shared/sim-xen-abi.md) and {@code xen}
 * (/dev/xen/gntdev and /dev/xen/evtchn through FFM). The backend is always domain 0.
 */
public interface Hypervisor extends AutoCloseable {

    /** "sim" or "xen". */
    String name();

    /**
     * A reusable batch of grant-copy segments; one batch per ring, used by one thread at a time.
     * The xen implementation lays segments out as {@code gntdev_grant_copy_segment}s and issues one
     * IOCTL_GNTDEV_GRANT_COPY per {@link GrantCopyBatch#execute()}.
     */
    GrantCopyBatch newCopyBatch(int capacity);

    /**
     * Maps grants {@code refs} of guest {@code domid} (writable unless {@code readOnly}). The whole call
     * fails when any grant fails (nothing stays mapped). Closing the mapping unmaps every page; any use of
     * a page segment afterwards throws (IllegalStateException from the closed arena) instead of reading
     * memory the guest may have reused.
     */
    GrantMapping map(int domid, int[] refs, boolean readOnly) throws GrantException;

    /**
     * Binds to the unbound port {@code remotePort} that guest {@code domid} allocated for us;
     * {@code onEvent} runs (on a hypervisor thread, coalesced) for every notification from the guest.
     */
    EventChannel bindInterdomain(int domid, int remotePort, Runnable onEvent) throws HypervisorException;

    /**
     * Like {@link #bindInterdomain(int, int, Runnable)}, with a hint: run {@code onEvent} on {@code loop}
     * (the ring's own event loop) when the implementation can, which saves a thread hop per notification.
     * Implementations that cannot ignore the hint; {@code onEvent} must work on any thread either way.
     */
    default EventChannel bindInterdomain(int domid, int remotePort, Runnable onEvent, io.netty.channel.EventLoop loop)
            throws HypervisorException {
        return bindInterdomain(domid, remotePort, onEvent);
    }

    @Override
    void close();
}
