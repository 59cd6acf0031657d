package io.tapdisk4j.ring.backend;

import io.netty.channel.EventLoopGroup;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.ring.hv.HypervisorException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/** {@link BlkifBackend}: one {@link RingServer} per queue, each on its own event loop of the group. */
final class DeviceBackend implements BlkifBackend {

    static final Logger LOG = LoggerFactory.getLogger(DeviceBackend.class);

    private final BackendSpec spec;
    final RateLimitedLog log;
    private final List<RingServer> rings = new ArrayList<>();
    private final CompletableFuture<String> shutdown = new CompletableFuture<>();
    private volatile CompletableFuture<Void> closing;

    private DeviceBackend(BackendSpec spec) {
        this.spec = spec;
        this.log = new RateLimitedLog(LOG, spec.name(), 10);
    }

    static BlkifBackend start(BackendSpec spec) throws HypervisorException {
        DeviceBackend b = new DeviceBackend(spec);
        if (spec.effectiveDataPath() == DataPath.UNSAFE_MAP) {
            LOG.warn("{}: UNSAFE data path unsafe-map: guest pages go to storage without a copy; the guest can change"
                    + " data after validation. For the safety suite and benchmarks only.", spec.name());
        }
        EventLoopGroup group = spec.executor() != null ? spec.executor() : EventLoops.shared();
        try {
            for (int q = 0; q < spec.queues().size(); q++) {
                b.rings.add(new RingServer(b, q, group.next(), spec.queues().get(q)));
            }
            for (int q = 0; q < spec.queues().size(); q++) {
                b.rings.get(q).bind(spec.queues().get(q).eventChannelPort());
            }
        } catch (HypervisorException | RuntimeException e) {
            b.rings.forEach(RingServer::abandon);
            throw e;
        }
        LOG.info("{}: serving domain {} with {} queue(s) of {} entries, {} ABI, data path {}", spec.name(),
                spec.frontendDomid(), spec.queues().size(), b.rings.getFirst().ringSize(), spec.abi().protocol(),
                spec.effectiveDataPath().cliName());
        return b;
    }

    @Override
    public BackendSpec spec() {
        return spec;
    }

    @Override
    public DataPath dataPath() {
        return spec.effectiveDataPath();
    }

    @Override
    public BackendStats stats() {
        return RingCounters.sum(rings.stream().map(r -> r.counters).toList());
    }

    @Override
    public CompletableFuture<String> shutdown() {
        return shutdown;
    }

    void fatal(String reason) {
        if (fatalOnce.compareAndSet(false, true)) {
            // Listener first: whoever waits on shutdown() may rely on the toolstack having heard it.
            listenerSafe(l -> l.onShutdown(reason));
            shutdown.complete(reason);
        }
    }

    private final java.util.concurrent.atomic.AtomicBoolean fatalOnce = new java.util.concurrent.atomic.AtomicBoolean();

    void listenerSafe(Consumer<BackendListener> call) {
        try {
            call.accept(spec.listener());
        } catch (RuntimeException e) {
            LOG.warn("{}: backend listener failed", spec.name(), e);
        }
    }

    @Override
    public synchronized CompletableFuture<Void> closeAsync() {
        if (closing == null) {
            long timeout = spec.closeTimeout().toNanos();
            CompletableFuture<?>[] parts = rings.stream().map(r -> r.close(timeout)).toArray(CompletableFuture[]::new);
            closing = CompletableFuture.allOf(parts);
        }
        return closing;
    }

    @Override
    public void close() {
        CompletableFuture<Void> f = closeAsync();
        for (RingServer r : rings) {
            if (r.loop.inEventLoop()) {
                // Closing from a ring thread cannot wait for that thread; the release happens after we return.
                return;
            }
        }
        try {
            f.get(spec.closeTimeout().toMillis() + 5000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (TimeoutException e) {
            LOG.error("{}: close did not finish in time", spec.name());
        } catch (java.util.concurrent.ExecutionException e) {
            LOG.error("{}: close failed", spec.name(), e.getCause());
        }
    }
}
