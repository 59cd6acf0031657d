package io.tapdisk4j.safety.crash;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Buffers;

import java.io.PrintStream;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The child JVM of the crash-consistency test: opens a device by URI and issues a {@link WriteSchedule},
 * keeping up to {@code depth} writes in flight, printing {@code ACK i} once write i and every write before
 * it are durable (after a flush, or after a FUA write when everything before it is already durable). The
 * parent kills it with SIGKILL at a random point.
 *
 * <p>Arguments: uri seed blocks writes flushEvery fuaEvery depth
 */
public final class CrashWriter {

    private CrashWriter() {
    }

    public static void main(String[] args) throws Exception {
        String uri = args[0];
        WriteSchedule s = new WriteSchedule(Long.parseLong(args[1]), Integer.parseInt(args[2]),
                Integer.parseInt(args[3]), Integer.parseInt(args[4]), Integer.parseInt(args[5]));
        int depth = Integer.parseInt(args[6]);
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
                ByteBuf b = Buffers.direct(WriteSchedule.BLOCK);
                s.fill(b, i);
                boolean fua = s.fua(i);
                CompletableFuture<Void> w = d.write((long) s.block(i) * WriteSchedule.BLOCK, b, fua);
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
