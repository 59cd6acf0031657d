package io.tapdisk4j.app.daemon;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.EventLoop;
import io.tapdisk4j.ring.hv.EventChannel;
import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.Hypervisor;
import io.tapdisk4j.ring.hv.HypervisorException;

import java.lang.foreign.MemorySegment;

/**
 * The daemon's hypervisor with its grant copies counted: every executed batch records how many segments it
 * carried ({@code tapdisk4j.grantcopy.batch.segments}, one hypercall or ioctl each on Xen), so the metrics
 * show whether requests are being coalesced. Everything else goes straight to the real hypervisor.
 */
final class MeteredHypervisor implements Hypervisor {

    private final Hypervisor delegate;
    private final DistributionSummary segments;

    MeteredHypervisor(Hypervisor delegate, MeterRegistry registry) {
        this.delegate = delegate;
        this.segments = DistributionSummary.builder("tapdisk4j.grantcopy.batch.segments")
                .description("segments per executed grant-copy batch (all devices)")
                .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024).register(registry);
    }

    @Override
    public String name() {
        return delegate.name();
    }

    @Override
    public GrantCopyBatch newCopyBatch(int capacity) {
        GrantCopyBatch b = delegate.newCopyBatch(capacity);
        return new GrantCopyBatch() {
            @Override
            public void fromGuest(int domid, int ref, int pageOffset, MemorySegment local, long localOffset, int length) {
                b.fromGuest(domid, ref, pageOffset, local, localOffset, length);
            }

            @Override
            public void toGuest(MemorySegment local, long localOffset, int domid, int ref, int pageOffset, int length) {
                b.toGuest(local, localOffset, domid, ref, pageOffset, length);
            }

            @Override
            public int size() {
                return b.size();
            }

            @Override
            public int capacity() {
                return b.capacity();
            }

            @Override
            public void execute() throws HypervisorException {
                int n = b.size();
                if (n > 0) {
                    segments.record(n);
                }
                b.execute();
            }

            @Override
            public int status(int i) {
                return b.status(i);
            }

            @Override
            public void clear() {
                b.clear();
            }
        };
    }

    @Override
    public GrantMapping map(int domid, int[] refs, boolean readOnly) throws GrantException {
        return delegate.map(domid, refs, readOnly);
    }

    @Override
    public EventChannel bindInterdomain(int domid, int remotePort, Runnable onEvent) throws HypervisorException {
        return delegate.bindInterdomain(domid, remotePort, onEvent);
    }

    @Override
    public EventChannel bindInterdomain(int domid, int remotePort, Runnable onEvent, EventLoop loop)
            throws HypervisorException {
        return delegate.bindInterdomain(domid, remotePort, onEvent, loop);
    }

    @Override
    public void close() {
        delegate.close();
    }
}
