package io.tapdisk4j.ring.bench;

import io.netty.channel.EventLoopGroup;
import io.tapdisk4j.ring.hv.sim.SimLayout;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.ring.backend.BackendSpec;
import io.tapdisk4j.ring.backend.BlkifBackend;
import io.tapdisk4j.ring.backend.DataPath;
import io.tapdisk4j.ring.blkif.Abi;
import io.tapdisk4j.ring.blkif.BlkifLayout;
import io.tapdisk4j.ring.frontend.BlkfrontEmulator;
import io.tapdisk4j.ring.frontend.BlkifResponse;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.frontend.GuestBuffer;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.hv.sim.SimHypervisor;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * {@code tapdisk4j bench ring}: emulated guests drive the ring server over the simulated hypervisor with
 * a fixed queue depth, and the same run measures the machine's memcpy bandwidth for the same block size
 * over the same working set (guest buffers as the source, one reused dom0-sized buffer as destination),
 * so the data path's cost shows as a ratio of the physical ceiling.
 */
public final class RingBenchmark {

    /**
     * @param deviceUri  storage for every guest (each opens its own), e.g. {@code null:}
     * @param guests     emulated guests, each one device
     * @param queues     rings per device
     * @param blockSize  bytes per request (a multiple of 512; up to 1 MiB with indirect descriptors)
     * @param mode       data path
     * @param write      writes instead of reads
     * @param seconds    measured duration (after a short warm-up)
     * @param depth      requests kept in flight per queue; 0 picks about 4 MiB in flight (4..64 requests)
     * @param ringOrder  ring-page-order of every queue
     * @param guestMemory bytes of guest memory each guest's requests cycle through (0: only the buffers in
     *                   flight, which stay in the CPU caches; a guest streaming data touches far more). The
     *                   memcpy ceiling is measured over the same working set.
     */
    public record Options(String deviceUri, int guests, int queues, int blockSize, DataPath mode, boolean write,
                          double seconds, int depth, int ringOrder, long guestMemory) {

        public Options(String deviceUri, int guests, int queues, int blockSize, DataPath mode, boolean write,
                       double seconds, int depth, int ringOrder) {
            this(deviceUri, guests, queues, blockSize, mode, write, seconds, depth, ringOrder, 0);
        }

        /** Guest buffers per queue: enough to cover {@link #guestMemory}, at least one per request in flight. */
        public int buffersPerQueue() {
            long perQueue = guestMemory / queues / ((blockSize + 4095L) / 4096 * 4096);
            long n = Math.max(depth, Math.min(perQueue, 1 << 16));
            return (int) ((n + depth - 1) / depth * depth); // a multiple of the depth: in-flight requests never share one

        }

        public Options {
            if (guestMemory < 0) {
                throw new IllegalArgumentException("bad guest memory " + guestMemory);
            }
            if (depth == 0 && blockSize > 0) {
                depth = Math.clamp((4 << 20) / blockSize, 4, 64);
            }
            if (guests < 1 || queues < 1 || blockSize < 512 || blockSize % 512 != 0 || seconds <= 0 || depth < 1
                    || blockSize > BlkifBackend.DEFAULT_MAX_INDIRECT_SEGMENTS * 4096) {
                throw new IllegalArgumentException("bad benchmark options");
            }
        }

        public static Options of(String device, int guests, int queues, int blockSize, DataPath mode, boolean write,
                                 double seconds) {
            return new Options(device, guests, queues, blockSize, mode, write, seconds, 0, 2);
        }
    }

    /**
     * Throughput and the memcpy ceiling of the same run. {@code requests} and {@code bytes} count the
     * measured window; {@code completedTotal} every request answered OK, warm-up and drain included.
     */
    public record Result(Options options, long requests, long bytes, double seconds, long errors,
                         double memcpyBytesPerSecond, long completedTotal) {
        public double bytesPerSecond() {
            return bytes / seconds;
        }

        public double iops() {
            return requests / seconds;
        }

        public double ratio() {
            return bytesPerSecond() / memcpyBytesPerSecond;
        }

        public String summary() {
            return String.format(Locale.ROOT,
                    "ring %-10s %-5s bs=%-4s guests=%d queues=%d depth=%-2d: %7.3f GB/s %9.0f IOPS | memcpy %7.3f GB/s | ratio %5.1f%%%s",
                    options.mode().cliName(), options.write() ? "write" : "read", size(options.blockSize()),
                    options.guests(), options.queues(), options.depth(), bytesPerSecond() / 1e9, iops(), memcpyBytesPerSecond / 1e9,
                    100 * ratio(), errors > 0 ? " (" + errors + " errors)" : "");
        }
    }

    private RingBenchmark() {
    }

    static String size(int bytes) {
        return bytes % (1 << 20) == 0 ? bytes / (1 << 20) + "M" : bytes % 1024 == 0 ? bytes / 1024 + "K" : bytes + "";
    }

    public static Result run(Options o, PrintStream progress) throws Exception {
        Path dir = SimLayout.newDirectory("tapdisk4j-bench-");
        String uri = o.deviceUri().equals("null:") ? "null:?size=1T" : o.deviceUri();
        int pagesPerRequest = (o.blockSize() + 4095) / 4096;
        List<Guest> guests = new ArrayList<>();
        // The guests' vCPUs: threads of their own, as on Xen, so a guest never waits behind dom0's work on a
        // shared event loop (dom0's loops serve only the backends). One per queue, but no more than the machine
        // has cores: a seed VM's nine devices on nine threads of two cores spent their time switching.
        EventLoopGroup vcpus = EventLoops.newGroup("guest-vcpu",
                Math.min(o.guests() * o.queues(), Runtime.getRuntime().availableProcessors()));
        try (SimHypervisor hv = new SimHypervisor(dir)) {
            try {
                for (int g = 0; g < o.guests(); g++) {
                    guests.add(new Guest(hv, vcpus, dir, g + 1, uri, o, pagesPerRequest));
                }
                // Long enough for the JIT to finish with the hot path in a fresh JVM (every point runs in its own),
                // even on a busy machine; short runs (tests) warm up less.
                long warmupNanos = (long) (Math.min(2.0, Math.max(0.1, o.seconds() * 2)) * 1e9);
                AtomicLong requests = new AtomicLong();
                AtomicLong bytes = new AtomicLong();
                AtomicLong errors = new AtomicLong();
                Run run = new Run(requests, bytes, errors);
                for (Guest g : guests) {
                    g.start(run, o);
                }
                Thread.sleep(warmupNanos / 1_000_000);
                requests.set(0);
                bytes.set(0);
                long start = System.nanoTime();
                long end = start + (long) (o.seconds() * 1e9);
                long nextReport = start + 1_000_000_000L;
                while (System.nanoTime() < end) {
                    long now = System.nanoTime();
                    if (progress != null && now >= nextReport) {
                        progress.printf(Locale.ROOT, "  %.0fs: %.3f GB/s%n", (now - start) / 1e9,
                                bytes.get() / ((now - start) / 1e9) / 1e9);
                        nextReport += 1_000_000_000L;
                    }
                    Thread.sleep(Math.max(1, Math.min(100, (end - now) / 1_000_000)));
                }
                long n = requests.get();
                // From the one counter: completions still running may have counted a request but not its bytes.
                long b = n * o.blockSize();
                double secs = (System.nanoTime() - start) / 1e9;
                run.stop();
                for (Guest g : guests) {
                    g.drain();
                }
                long workingSet = (long) o.guests() * o.queues() * o.buffersPerQueue() * pagesPerRequest * 4096L;
                double memcpy = memcpyBandwidth(o.blockSize(), workingSet, Math.min(2.0, Math.max(0.5, o.seconds() / 4)));
                Result r = new Result(o, n, b, secs, errors.get(), memcpy, run.completed.get());
                if (progress != null) {
                    progress.println(r.summary());
                }
                return r;
            } finally {
                for (Guest g : guests) {
                    g.close();
                }
            }
        } finally {
            vcpus.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException ignored) {
                // temp dir
            }
        }
    }

    /**
     * Bytes per second copying {@code blockSize} blocks from a source of {@code workingSet} bytes (the
     * guests' buffers are that big) into one reused block (pooled dom0 buffers are reused).
     */
    public static double memcpyBandwidth(int blockSize, long workingSet, double seconds) {
        long srcBytes = Math.max(blockSize, (workingSet / blockSize) * blockSize);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(srcBytes, 4096);
            src.fill((byte) 1);
            MemorySegment dst = arena.allocate(blockSize, 4096);
            long blocks = srcBytes / blockSize;
            for (long i = 0; i < blocks; i++) {
                MemorySegment.copy(src, i * blockSize, dst, 0, blockSize);
            }
            // Best of several short trials: on a shared machine the slowest trials measure other work.
            double best = 0;
            int trials = 5;
            for (int t = 0; t < trials; t++) {
                long deadline = System.nanoTime() + (long) (seconds / trials * 1e9);
                long copied = 0;
                long start = System.nanoTime();
                for (long i = 0; ; i++) {
                    MemorySegment.copy(src, (i % blocks) * blockSize, dst, 0, blockSize);
                    copied += blockSize;
                    if ((i & 63) == 0 && System.nanoTime() > deadline) {
                        break;
                    }
                }
                best = Math.max(best, copied / ((System.nanoTime() - start) / 1e9));
            }
            return best;
        }
    }

    /** Shared counters and the stop flag. */
    private static final class Run {
        final AtomicLong requests;
        final AtomicLong bytes;
        final AtomicLong errors;
        final AtomicLong completed = new AtomicLong();
        volatile boolean stopped;

        Run(AtomicLong requests, AtomicLong bytes, AtomicLong errors) {
            this.requests = requests;
            this.bytes = bytes;
            this.errors = errors;
        }

        void stop() {
            stopped = true;
        }
    }

    /** One emulated guest with its device and backend. */
    private static final class Guest implements AutoCloseable {
        final SimGuest sim;
        final BlkfrontEmulator front;
        final BlockDevice device;
        final BlkifBackend backend;
        final List<GuestBuffer> buffers = new ArrayList<>();
        final CountDownLatch drained;
        final long sectors;

        Guest(SimHypervisor hv, EventLoopGroup vcpus, Path dir, int domid, String uri, Options o, int pagesPerRequest)
                throws Exception {
            int indirectPages = o.queues() * (1 << o.ringOrder()) * 64;
            int frames = o.queues() * (o.buffersPerQueue() * pagesPerRequest + (1 << o.ringOrder())) + indirectPages + 64;
            sim = SimGuest.create(dir, domid, frames, frames + 1024, vcpus);
            boolean persistent = o.mode() == DataPath.PERSISTENT;
            front = BlkfrontEmulator.create(sim, new FrontendOptions(o.queues(), o.ringOrder(), Abi.X86_64, persistent,
                    BlkifBackend.DEFAULT_MAX_INDIRECT_SEGMENTS));
            device = BlockDevices.loadDefault().open(uri);
            sectors = device.size() / BlkifLayout.SECTOR_SIZE;
            backend = BlkifBackend.start(BackendSpec.builder(hv, domid, device).name("bench-dom" + domid)
                    .queues(front.queueSpecs()).dataPath(o.mode()).frontendPersistent(persistent)
                    .allowUnsafe(o.mode() == DataPath.UNSAFE_MAP).build());
            drained = new CountDownLatch(o.queues() * o.depth());
        }

        void start(Run run, Options o) {
            int pages = (o.blockSize() + 4095) / 4096;
            long span = Math.max(1, sectors / (o.blockSize() / 512) - 1);
            int perQueue = o.buffersPerQueue();
            for (int q = 0; q < o.queues(); q++) {
                List<GuestBuffer> pool = new ArrayList<>();
                for (int i = 0; i < perQueue; i++) {
                    GuestBuffer b = front.allocateBuffer(pages);
                    buffers.add(b);
                    pool.add(b);
                }
                for (int d = 0; d < o.depth(); d++) {
                    long slot = (long) (q * o.depth() + d) * 997 % span;
                    issue(run, o, q, pool, d, slot, span);
                }
            }
        }

        /** Request number {@code n} of an in-flight slot uses buffer {@code n}, stepping by the depth. */
        private void issue(Run run, Options o, int q, List<GuestBuffer> pool, int n, long slot, long span) {
            GuestBuffer b = pool.get(n % pool.size());
            long sector = slot * (o.blockSize() / 512);
            CompletableFuture<BlkifResponse> f = o.write() ? front.write(q, sector, b, 0, o.blockSize())
                    : front.read(q, sector, b, 0, o.blockSize());
            f.whenComplete((rsp, e) -> {
                if (e != null || !rsp.ok()) {
                    run.errors.incrementAndGet();
                } else {
                    run.requests.incrementAndGet();
                    run.completed.incrementAndGet();
                    run.bytes.addAndGet(o.blockSize());
                }
                if (run.stopped || e != null) {
                    drained.countDown();
                } else {
                    issue(run, o, q, pool, (n + o.depth()) % pool.size(), (slot + 1) % span, span);
                }
            });
        }

        void drain() throws InterruptedException {
            drained.await(30, TimeUnit.SECONDS);
        }

        @Override
        public void close() {
            backend.close();
            front.close();
            buffers.forEach(GuestBuffer::close);
            sim.close();
            device.close();
        }
    }
}
