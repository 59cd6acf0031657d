package io.tapdisk4j.app.demo;

import io.tapdisk4j.ring.frontend.BlkfrontEmulator;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.ring.frontend.GuestBuffer;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the demo's guest does: writes a pattern stamped with each block's number sequentially over a
 * region of its disk, reads every block back and checks the stamp, while a progress line shows the
 * throughput the ring server sustains.
 */
public final class GuestWorkload {

    public record Result(long bytesWritten, long bytesRead, long requests, long errors, long mismatches,
                         double seconds) {
    }

    private static final int BLOCK = 64 * 1024;
    private static final int SECTORS_PER_BLOCK = BLOCK / 512;

    private final BlkfrontEmulator guest;
    private final long regionBlocks;
    private final PrintStream out;
    private final boolean terminal;

    public GuestWorkload(BlkfrontEmulator guest, long diskBytes, PrintStream out, boolean terminal) {
        this.guest = guest;
        this.regionBlocks = Math.max(1, Math.min(diskBytes, 256L << 20) / BLOCK);
        this.out = out;
        this.terminal = terminal;
    }

    /** Runs write-then-verify passes for about {@code seconds}; at least one full pass. */
    public Result run(double seconds) throws Exception {
        int depth = 8;
        List<GuestBuffer> buffers = new ArrayList<>();
        for (int i = 0; i < depth * guest.queueCount(); i++) {
            buffers.add(guest.allocateBuffer(BLOCK / 4096));
        }
        AtomicLong written = new AtomicLong();
        AtomicLong read = new AtomicLong();
        AtomicLong requests = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        AtomicLong mismatches = new AtomicLong();
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        long nextReport = start;
        int pass = 0;
        try {
            do {
                pass++;
                for (boolean writing : new boolean[]{true, false}) {
                    for (long first = 0; first < regionBlocks; first += buffers.size()) {
                        List<CompletableFuture<BlkifResponse>> inFlight = new ArrayList<>();
                        for (int i = 0; i < buffers.size() && first + i < regionBlocks; i++) {
                            long block = first + i;
                            GuestBuffer buf = buffers.get(i);
                            int queue = i % guest.queueCount();
                            if (writing) {
                                buf.put(0, stamp(block, pass));
                                inFlight.add(guest.write(queue, block * SECTORS_PER_BLOCK, buf, 0, BLOCK));
                            } else {
                                inFlight.add(guest.read(queue, block * SECTORS_PER_BLOCK, buf, 0, BLOCK));
                            }
                        }
                        for (int i = 0; i < inFlight.size(); i++) {
                            BlkifResponse r = inFlight.get(i).get();
                            requests.incrementAndGet();
                            if (!r.ok()) {
                                errors.incrementAndGet();
                            } else if (writing) {
                                written.addAndGet(BLOCK);
                            } else {
                                read.addAndGet(BLOCK);
                                long block = first + i;
                                if (!java.util.Arrays.equals(buffers.get(i).get(0, 16), stamp(block, pass))) {
                                    mismatches.incrementAndGet();
                                }
                            }
                        }
                        long now = System.nanoTime();
                        if (now >= nextReport) {
                            report(now - start, written.get(), read.get(), requests.get(), errors.get(), pass, false);
                            nextReport = now + (terminal ? 200_000_000L : 1_000_000_000L);
                        }
                    }
                }
            } while (System.nanoTime() < deadline);
        } finally {
            buffers.forEach(GuestBuffer::close);
        }
        long elapsed = System.nanoTime() - start;
        report(elapsed, written.get(), read.get(), requests.get(), errors.get(), pass, true);
        return new Result(written.get(), read.get(), requests.get(), errors.get(), mismatches.get(), elapsed / 1e9);
    }

    private void report(long nanos, long written, long read, long requests, long errors, int pass, boolean last) {
        double s = Math.max(nanos / 1e9, 1e-9);
        String line = String.format(Locale.ROOT,
                "  guest I/O  %5.1fs  pass %-3d written %7.1f MiB  read %7.1f MiB  %8.1f MB/s  %7.0f req/s  errors %d",
                s, pass, written / 1048576.0, read / 1048576.0, (written + read) / s / 1e6, requests / s, errors);
        if (terminal) {
            out.print("\r" + line + (last ? "\n" : ""));
        } else {
            out.println(line);
        }
        out.flush();
    }

    /** The first 16 bytes of a block: its number and the pass, so a misplaced or stale block shows. */
    static byte[] stamp(long block, int pass) {
        byte[] b = new byte[16];
        java.nio.ByteBuffer.wrap(b).putLong(block).putInt(pass).putInt(0x7a4d_1534);
        return b;
    }
}
