package io.tapdisk4j.vhd;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceProvider;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.EarlyWriteback;
import io.tapdisk4j.block.FormatProvider;
import io.tapdisk4j.block.ForwardingBlockDevice;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.block.local.MemoryDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code vdi copy} between two local raw files: copied by the kernel, its writeback started chunk by chunk; and
 * through buffers into a device with a cache in front of its disk: writeback started behind the copy, only on
 * chunks whose writes are complete.
 */
class VdiCopyTest {

    @TempDir
    Path dir;

    @Test
    void rawToRawCopiesEveryByteAcrossSeveralKernelChunksAndKeepsHoles() throws Exception {
        long size = 3 * VdiCopier.KERNEL_CHUNK + (5L << 20);
        Path src = dir.resolve("src.raw");
        Random rnd = new Random(20);
        // Data over more than one kernel chunk, a hole of two chunks, then data up to the end.
        long[][] runs = {{0, VdiCopier.KERNEL_CHUNK + (3L << 20)}, {size - (6L << 20), 6L << 20}};
        try (RandomAccessFile f = new RandomAccessFile(src.toFile(), "rw")) {
            f.setLength(size);
            byte[] block = new byte[1 << 20];
            for (long[] run : runs) {
                for (long at = run[0]; at < run[0] + run[1]; at += block.length) {
                    rnd.nextBytes(block);
                    f.seek(at);
                    f.write(block);
                }
            }
        }
        Path dst = dir.resolve("dst.raw");

        new VdiOperations().copy("file://" + src, "file://" + dst, "raw", VdiProgress.NONE);

        assertEquals(size, Files.size(dst));
        try (RandomAccessFile a = new RandomAccessFile(src.toFile(), "r");
             RandomAccessFile b = new RandomAccessFile(dst.toFile(), "r")) {
            byte[] x = new byte[1 << 20];
            byte[] y = new byte[1 << 20];
            for (long at = 0; at < size; at += x.length) {
                a.readFully(x);
                b.readFully(y);
                assertArrayEquals(x, y, "bytes at " + at);
            }
        }
        long allocated = io.tapdisk4j.testsupport.AllocatedBytes.of(dst);
        assertTrue(allocated < size - VdiCopier.KERNEL_CHUNK,
                "the hole stays a hole: " + allocated + " bytes allocated of " + size);
    }

    @Test
    void writebackStartsBehindTheCopyOnlyOnChunksWhoseWritesCompleted() throws Exception {
        int chunks = 3 * VdiCopier.DEPTH + 3;
        long size = (long) chunks * VdiCopier.COPY_CHUNK;
        RecordingDevice[] made = new RecordingDevice[1];
        BlockDeviceProvider rec = new BlockDeviceProvider() {
            @Override
            public Set<String> schemes() {
                return Set.of("rec");
            }

            @Override
            public BlockDevice open(DeviceUri uri, OpenOptions o) {
                throw new UnsupportedOperationException();
            }

            @Override
            public BlockDevice create(DeviceUri uri, long n) {
                made[0] = new RecordingDevice(n);
                return made[0];
            }
        };
        List<BlockDeviceProvider> providers = new ArrayList<>();
        providers.add(rec);
        ServiceLoader.load(BlockDeviceProvider.class).forEach(providers::add);
        BlockDevices devices = new BlockDevices(providers,
                ServiceLoader.load(FormatProvider.class));
        Path src = dir.resolve("src.raw");
        byte[] model = new byte[(int) size];
        new Random(21).nextBytes(model);
        Files.write(src, model);

        // Writes complete only while the copying thread waits for one, the oldest first: a hint given before the
        // copy waited for its range finds the write still pending.
        Thread copier = Thread.currentThread();
        AtomicBoolean stop = new AtomicBoolean();
        Thread completer = Thread.ofPlatform().daemon().start(() -> {
            while (!stop.get()) {
                RecordingDevice d = made[0];
                CompletableFuture<Void> oldest = d == null ? null : d.pending.peek();
                Thread.State state = copier.getState();
                if (oldest != null && (state == Thread.State.WAITING || state == Thread.State.TIMED_WAITING)) {
                    d.pending.poll().complete(null);
                } else {
                    Thread.onSpinWait();
                }
            }
        });
        try {
            new VdiOperations(devices).copy("file://" + src, "rec:dst", "raw", VdiProgress.NONE);
        } finally {
            stop.set(true);
            completer.join();
        }

        RecordingDevice d = made[0];
        assertTrue(d.hintedEarly.isEmpty(), "writeback started on ranges still being written: " + d.hintedEarly);
        // Every chunk but the last few in flight when the loop ended, each once, in order.
        assertTrue(d.hinted.size() >= chunks - VdiCopier.DEPTH, d.hinted.size() + " of " + chunks + " chunks hinted");
        for (int i = 0; i < d.hinted.size(); i++) {
            assertEquals((long) i * VdiCopier.COPY_CHUNK, d.hinted.get(i)[0], "hint " + i);
            assertEquals(VdiCopier.COPY_CHUNK, d.hinted.get(i)[1], "hint " + i);
        }
        ByteBuf back = d.read(0, (int) size).join();
        try {
            byte[] got = new byte[(int) size];
            back.readBytes(got);
            assertArrayEquals(model, got);
        } finally {
            back.release();
        }
    }

    /**
     * Memory whose writes complete only when a test completes them ({@code pending}, oldest first), and which
     * records the writeback hints it gets: {@code hintedEarly} any that came while a write into the range was
     * still pending.
     */
    private static final class RecordingDevice extends ForwardingBlockDevice implements EarlyWriteback {
        final ConcurrentLinkedQueue<CompletableFuture<Void>> pending = new ConcurrentLinkedQueue<>();
        final List<long[]> hinted = Collections.synchronizedList(new ArrayList<>());
        final List<String> hintedEarly = Collections.synchronizedList(new ArrayList<>());
        final Map<Long, CompletableFuture<Void>> writes = new ConcurrentHashMap<>();

        RecordingDevice(long size) {
            super(new MemoryDevice("rec", size));
        }

        @Override
        public void startWriteback(long offset, long length) {
            hinted.add(new long[]{offset, length});
            writes.forEach((at, w) -> {
                if (at < offset + length && at + VdiCopier.COPY_CHUNK > offset && !w.isDone()) {
                    hintedEarly.add(offset + "+" + length + " while the write at " + at + " was pending");
                }
            });
        }

        @Override
        public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
            delegate.write(offset, data, fua).join();
            CompletableFuture<Void> done = new CompletableFuture<>();
            writes.put(offset, done);
            pending.add(done);
            return done;
        }
    }
}
