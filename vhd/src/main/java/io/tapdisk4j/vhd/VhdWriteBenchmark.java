package io.tapdisk4j.vhd;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.DeviceUri;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

/**
 * First writes into unallocated VHD space against rewrites of the same space (the known weak point of VHD
 * backends), plus the same writes to a raw file and a memcpy ceiling measured in the same run.
 * {@code java -cp … io.tapdisk4j.vhd.VhdWriteBenchmark [DIR] [SIZE] [REQUEST] [DEPTH]}; the lead's
 * {@code ./tapdisk4j bench} can call {@link #run}.
 */
public final class VhdWriteBenchmark {

    public record Result(String pattern, double firstWriteMBps, double rewriteMBps, double rawMBps, double memcpyMBps) {
        public double ratio() {
            return firstWriteMBps / rewriteMBps;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%-10s first write %8.1f MB/s  rewrite %8.1f MB/s  ratio %.2f  "
                    + "(raw file %8.1f MB/s, memcpy %8.1f MB/s)", pattern, firstWriteMBps, rewriteMBps, ratio(),
                    rawMBps, memcpyMBps);
        }
    }

    private VhdWriteBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : System.getProperty("java.io.tmpdir"));
        long size = args.length > 1 ? io.tapdisk4j.block.Sizes.parse(args[1]) : 1L << 30;
        int request = args.length > 2 ? (int) io.tapdisk4j.block.Sizes.parse(args[2]) : 64 << 10;
        int depth = args.length > 3 ? Integer.parseInt(args[3]) : 16;
        for (boolean random : new boolean[]{false, true}) {
            System.out.println(run(dir, size, request, depth, random));
        }
        System.exit(0);
    }

    /**
     * Sequential or random-order writes of {@code request} bytes, {@code depth} in flight; each figure is the
     * median of three runs on fresh files (the machine is shared and noisy).
     */
    public static Result run(Path dir, long size, int request, int depth, boolean random) throws IOException {
        Result[] runs = new Result[3];
        for (int i = 0; i < runs.length; i++) {
            runs[i] = once(dir, size, request, depth, random);
        }
        return new Result(runs[0].pattern(), median(runs, Result::firstWriteMBps), median(runs, Result::rewriteMBps),
                median(runs, Result::rawMBps), median(runs, Result::memcpyMBps));
    }

    private static double median(Result[] runs, java.util.function.ToDoubleFunction<Result> f) {
        double[] v = java.util.Arrays.stream(runs).mapToDouble(f).sorted().toArray();
        return v[v.length / 2];
    }

    private static Result once(Path dir, long size, int request, int depth, boolean random) throws IOException {
        Path vhd = Files.createTempFile(dir, "bench", ".vhd");
        Path raw = Files.createTempFile(dir, "bench", ".raw");
        Files.delete(vhd);
        Files.delete(raw);
        BlockDevices devices = BlockDevices.loadDefault();
        long[] order = order(size / request, random);
        try {
            double first;
            double rewrite;
            try (BlockDevice d = devices.create(DeviceUri.parse("file://" + vhd), size, "vhd")) {
                first = pass(d, order, request, depth);
                rewrite = pass(d, order, request, depth);
            }
            double rawRate;
            try (BlockDevice d = devices.create(DeviceUri.parse("file://" + raw), size, "raw")) {
                rawRate = pass(d, order, request, depth);
            }
            return new Result(random ? "random" : "sequential", first, rewrite, rawRate, memcpy(request));
        } finally {
            Files.deleteIfExists(vhd);
            Files.deleteIfExists(raw);
        }
    }

    private static long[] order(long n, boolean random) {
        long[] o = new long[(int) n];
        for (int i = 0; i < n; i++) {
            o[i] = i;
        }
        if (random) {
            Random r = new Random(1);
            for (int i = o.length - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                long t = o[i];
                o[i] = o[j];
                o[j] = t;
            }
        }
        return o;
    }

    /** Writes every request once, then flushes; MB/s including the flush. */
    private static double pass(BlockDevice d, long[] order, int request, int depth) {
        ByteBuf pattern = Buffers.direct(request);
        byte[] bytes = new byte[request];
        new Random(2).nextBytes(bytes);
        pattern.writeBytes(bytes);
        ArrayDeque<CompletableFuture<Void>> inFlight = new ArrayDeque<>();
        long start = System.nanoTime();
        try {
            for (long i : order) {
                inFlight.add(d.write(i * request, pattern.retainedDuplicate(), false));
                if (inFlight.size() >= depth) {
                    inFlight.poll().join();
                }
            }
            while (!inFlight.isEmpty()) {
                inFlight.poll().join();
            }
            d.flush().join();
        } finally {
            pattern.release();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return (double) order.length * request / seconds / 1e6;
    }

    /** Copying 1 GiB between direct buffers in {@code request} pieces: the machine's ceiling. */
    private static double memcpy(int request) {
        int chunk = 64 << 20;
        ByteBuffer src = ByteBuffer.allocateDirect(chunk);
        ByteBuffer dst = ByteBuffer.allocateDirect(chunk);
        long total = 1L << 30;
        long start = System.nanoTime();
        for (long done = 0; done < total; done += chunk) {
            for (int off = 0; off + request <= chunk; off += request) {
                dst.put(off, src, off, request);
            }
        }
        return total / ((System.nanoTime() - start) / 1e9) / 1e6;
    }
}
