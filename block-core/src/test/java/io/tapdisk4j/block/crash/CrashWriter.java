package io.tapdisk4j.block.crash;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Buffers;

import java.io.PrintStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The one crash writer of the project's SIGKILL tests (the safety-tests rounds over every transport, the
 * image formats' crash tests), started as a child JVM by {@link CrashChild}: opens a device by URI (any
 * format on the classpath) and issues a {@link WriteSchedule},
 * keeping up to {@code depth} writes in flight, printing {@code ACK i} once write i and every write before
 * it are durable (after a flush, or after a FUA write when everything before it is already durable). The
 * parent kills it with SIGKILL at a random point.
 *
 * <p>Arguments: uri depth, then the schedule's (seed blocks writes flushEvery fuaEvery blockSize once)
 */
public final class CrashWriter {

    private CrashWriter() {
    }

    public static void main(String[] args) throws Exception {
        String uri = args[0];
        int depth = Integer.parseInt(args[1]);
        WriteSchedule s = WriteSchedule.parse(args, 2);
        PrintStream out = new PrintStream(System.out, true);
        try (BlockDevice d = BlockDevices.loadDefault().open(uri)) {
            out.println("READY " + d.describe());
            CompletableFuture<?>[] inFlight = new CompletableFuture<?>[depth];
            // Concurrent overlapping writes have no defined order (on any block device): one per block at a time.
            CompletableFuture<?>[] perBlock = new CompletableFuture<?>[s.blocks];
            int since = 0;
            for (int i = 0; i < s.writes; i++) {
                CompletableFuture<?> slot = inFlight[i % depth];
                if (slot != null) {
                    slot.get(30, TimeUnit.SECONDS);
                }
                CompletableFuture<?> same = perBlock[s.block(i)];
                if (same != null) {
                    same.get(30, TimeUnit.SECONDS);
                }
                ByteBuf b = Buffers.direct(s.blockSize);
                s.fill(b, i);
                boolean fua = s.fua(i);
                CompletableFuture<Void> w = d.write((long) s.block(i) * s.blockSize, b, fua);
                inFlight[i % depth] = w;
                perBlock[s.block(i)] = w;
                since++;
                if (s.flushAfter(i) || fua) {
                    // Durability covers completed writes only: drain, then flush (a FUA write alone covers itself).
                    for (CompletableFuture<?> f : inFlight) {
                        if (f != null) {
                            f.get(30, TimeUnit.SECONDS);
                        }
                    }
                    if (!fua || since > 1) {
                        d.flush().get(30, TimeUnit.SECONDS);
                    }
                    since = 0;
                    out.println("ACK " + i);
                }
            }
            out.println("DONE");
        }
    }
}
