package io.tapdisk4j.bench.jmh;

import io.tapdisk4j.ring.hv.sim.SimLayout;
import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.hv.sim.SimHypervisor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** One grant-copy batch of a request's segments (guest pages into a pooled dom0 buffer), simulated hypervisor. */
@State(Scope.Thread)
public class GrantCopyBatchBench {

    @Param({"1", "11"})
    public int segments;

    private Path dir;
    private SimGuest guest;
    private SimHypervisor hv;
    private GrantCopyBatch batch;
    private int[] refs;
    private ByteBuf local;
    private MemorySegment localSegment;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        dir = SimLayout.newDirectory("tapdisk4j-jmh");
        guest = SimGuest.create(dir, 1, 64, 64);
        hv = new SimHypervisor(dir);
        refs = new int[segments];
        for (int i = 0; i < segments; i++) {
            refs[i] = guest.grant(guest.allocateFrame(), 0, false);
        }
        batch = hv.newCopyBatch(segments);
        local = Buffers.direct(segments * 4096);
        localSegment = MemorySegment.ofBuffer(local.nioBuffer(0, segments * 4096));
    }

    @Benchmark
    public int fromGuest() throws Exception {
        batch.clear();
        for (int i = 0; i < segments; i++) {
            batch.fromGuest(1, refs[i], 0, localSegment.asSlice(i * 4096L, 4096), 4096);
        }
        batch.execute();
        return batch.status(segments - 1);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        local.release();
        hv.close();
        guest.close();
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
