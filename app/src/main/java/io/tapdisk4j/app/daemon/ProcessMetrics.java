package io.tapdisk4j.app.daemon;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.SingleThreadEventExecutor;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.ring.xenbus.Tapback;

/** Process-wide gauges: the dom0 buffer pool, the shared event loops, device count, JVM memory and threads. */
final class ProcessMetrics {

    private ProcessMetrics() {
    }

    static void bind(MeterRegistry registry, Tapback tapback) {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        // Both pools (small buffers, and the 4 KiB-aligned one of data buffers) as one figure each.
        java.util.List<PooledByteBufAllocator> pools = Buffers.pools();
        Gauge.builder("tapdisk4j.buffers.used", pools, ps -> Buffers.usedDirectMemory())
                .baseUnit("bytes").description("dom0 pooled direct memory in use").tag("kind", "direct").register(registry);
        Gauge.builder("tapdisk4j.buffers.used", pools, ps -> ps.stream().mapToLong(x -> x.metric().usedHeapMemory()).sum())
                .baseUnit("bytes").tag("kind", "heap").register(registry);
        Gauge.builder("tapdisk4j.buffers.pinned", pools, ps -> ps.stream().mapToLong(PooledByteBufAllocator::pinnedDirectMemory).sum())
                .baseUnit("bytes").description("direct memory held by buffers not yet released")
                .register(registry);
        Gauge.builder("tapdisk4j.buffers.arenas", pools, ps -> ps.stream().mapToInt(x -> x.metric().numDirectArenas()).sum())
                .register(registry);
        EventLoopGroup loops = EventLoops.shared();
        int i = 0;
        for (EventExecutor e : loops) {
            if (e instanceof SingleThreadEventExecutor s) {
                Gauge.builder("tapdisk4j.eventloop.pending.tasks", s, SingleThreadEventExecutor::pendingTasks)
                        .description("tasks queued on a shared event loop").tag("loop", Integer.toString(i))
                        .register(registry);
            }
            i++;
        }
        Gauge.builder("tapdisk4j.eventloops", loops, l -> {
            int n = 0;
            for (EventExecutor ignored : l) {
                n++;
            }
            return n;
        }).description("threads in the shared event loop group").register(registry);
        Gauge.builder("tapdisk4j.devices", tapback, t -> t.devices().size())
                .description("vbd3 devices known to the daemon").register(registry);
        Gauge.builder("tapdisk4j.devices.connected", tapback,
                        t -> t.devices().stream().filter(d -> d.stats() != null).count())
                .description("devices with their rings connected").register(registry);
    }
}
