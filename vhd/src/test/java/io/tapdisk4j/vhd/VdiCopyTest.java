package io.tapdisk4j.vhd;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

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
        long size = 3 * VdiOperations.KERNEL_CHUNK + (5L << 20);
        Path src = dir.resolve("src.raw");
        Random rnd = new Random(20);
        // Data over more than one kernel chunk, a hole of two chunks, then data up to the end.
        long[][] runs = {{0, VdiOperations.KERNEL_CHUNK + (3L << 20)}, {size - (6L << 20), 6L << 20}};
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
        assertTrue(allocated < size - VdiOperations.KERNEL_CHUNK,
                "the hole stays a hole: " + allocated + " bytes allocated of " + size);
    }

    @Test
    void writebackStartsBehindTheCopyOnlyOnChunksWhoseWritesCompleted() throws Exception {
        int chunks = 3 * VdiOperations.DEPTH + 3;
        long size = (long) chunks * VdiOperations.COPY_CHUNK;
        RecordingDevice[] made = new RecordingDevice[1];
        io.tapdisk4j.block.BlockDeviceProvider rec = new io.tapdisk4j.block.BlockDeviceProvider() {
            @Override
            public java.util.Set<String> schemes() {
                return java.util.Set.of("rec");
            }

            @Override
            public io.tapdisk4j.block.BlockDevice open(io.tapdisk4j.block.DeviceUri uri, io.tapdisk4j.block.OpenOptions o) {
                throw new UnsupportedOperationException();
            }

            @Override
            public io.tapdisk4j.block.BlockDevice create(io.tapdisk4j.block.DeviceUri uri, long n) {
                made[0] = new RecordingDevice(n);
                return made[0];
            }
        };
        java.util.List<io.tapdisk4j.block.BlockDeviceProvider> providers = new java.util.ArrayList<>();
        providers.add(rec);
        java.util.ServiceLoader.load(io.tapdisk4j.block.BlockDeviceProvider.class).forEach(providers::add);
        io.tapdisk4j.block.BlockDevices devices = new io.tapdisk4j.block.BlockDevices(providers,
                java.util.ServiceLoader.load(io.tapdisk4j.block.FormatProvider.class));
        Path src = dir.resolve("src.raw");
        byte[] model = new byte[(int) size];
        new Random(21).nextBytes(model);
        Files.write(src, model);

        // Writes complete only while the copying thread waits for one, the oldest first: a hint given before the
        // copy waited for its range finds the write still pending.
        Thread copier = Thread.currentThread();
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        Thread completer = Thread.ofPlatform().daemon().start(() -> {
            while (!stop.get()) {
                RecordingDevice d = made[0];
                java.util.concurrent.CompletableFuture<Void> oldest = d == null ? null : d.pending.peek();
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
        assertTrue(d.hinted.size() >= chunks - VdiOperations.DEPTH, d.hinted.size() + " of " + chunks + " chunks hinted");
        for (int i = 0; i < d.hinted.size(); i++) {
            assertEquals((long) i * VdiOperations.COPY_CHUNK, d.hinted.get(i)[0], "hint " + i);
            assertEquals(VdiOperations.COPY_CHUNK, d.hinted.get(i)[1], "hint " + i);
        }
        io.netty.buffer.ByteBuf back = d.read(0, (int) size).join();
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
    private static final class RecordingDevice implements io.tapdisk4j.block.BlockDevice, io.tapdisk4j.block.EarlyWriteback {
        final io.tapdisk4j.block.local.MemoryDevice memory;
        final java.util.concurrent.ConcurrentLinkedQueue<java.util.concurrent.CompletableFuture<Void>> pending =
                new java.util.concurrent.ConcurrentLinkedQueue<>();
        final java.util.List<long[]> hinted = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        final java.util.List<String> hintedEarly = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        final java.util.Map<Long, java.util.concurrent.CompletableFuture<Void>> writes = new java.util.concurrent.ConcurrentHashMap<>();

        RecordingDevice(long size) {
            this.memory = new io.tapdisk4j.block.local.MemoryDevice("rec", size);
        }

        @Override
        public void startWriteback(long offset, long length) {
            hinted.add(new long[]{offset, length});
            writes.forEach((at, w) -> {
                if (at < offset + length && at + VdiOperations.COPY_CHUNK > offset && !w.isDone()) {
                    hintedEarly.add(offset + "+" + length + " while the write at " + at + " was pending");
                }
            });
        }

        @Override
        public java.util.concurrent.CompletableFuture<Void> write(long offset, io.netty.buffer.ByteBuf data, boolean fua) {
            memory.write(offset, data, fua).join();
            java.util.concurrent.CompletableFuture<Void> done = new java.util.concurrent.CompletableFuture<>();
            writes.put(offset, done);
            pending.add(done);
            return done;
        }
        @Override
        public long size() {
            return memory.size();
        }

        @Override
        public java.util.Set<io.tapdisk4j.block.Capability> capabilities() {
            return memory.capabilities();
        }

        @Override
        public java.util.concurrent.CompletableFuture<io.netty.buffer.ByteBuf> read(long offset, int length) {
            return memory.read(offset, length);
        }

        @Override
        public java.util.concurrent.CompletableFuture<Void> flush() {
            return memory.flush();
        }

        @Override
        public java.util.concurrent.CompletableFuture<Void> discard(long offset, long length, boolean secure) {
            return memory.discard(offset, length, secure);
        }

        @Override
        public java.util.concurrent.CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
            return memory.writeZeroes(offset, length, mayUnmap);
        }

        @Override
        public java.util.concurrent.CompletableFuture<java.util.List<io.tapdisk4j.block.Extent>> allocation(long offset, long length) {
            return memory.allocation(offset, length);
        }

        @Override
        public void close() {
            memory.close();
        }

        @Override
        public String describe() {
            return "rec:";
        }
    }
}
