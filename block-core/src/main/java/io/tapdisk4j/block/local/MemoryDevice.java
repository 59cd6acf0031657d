package io.tapdisk4j.block.local;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.Requests;
import io.tapdisk4j.block.Writes;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A sparse disk in memory: 64 KiB chunks allocated on first write, so {@code memory:?size=1T} costs
 * nothing until written. Chunk updates are atomic per chunk (each chunk's array is its own lock).
 */
public final class MemoryDevice implements BlockDevice {

    static final int CHUNK = 64 * 1024;

    private final String name;
    private final ConcurrentHashMap<Long, byte[]> chunks = new ConcurrentHashMap<>();
    private volatile long size;
    private final boolean readOnly;

    public MemoryDevice(String name, long size) {
        this.name = name;
        this.size = size;
        this.readOnly = false;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public Set<Capability> capabilities() {
        EnumSet<Capability> c = EnumSet.of(Capability.FLUSH, Capability.FUA, Capability.DISCARD,
                Capability.DISCARD_ZEROES, Capability.WRITE_ZEROES, Capability.ALLOCATION,
                Capability.MULTI_HANDLE_CONSISTENT, Capability.SECURE_DISCARD, Capability.RESIZE);
        if (readOnly) {
            c.add(Capability.READ_ONLY);
        }
        return c;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        ByteBuf out = Buffers.direct(length);
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long index = pos / CHUNK;
            int in = (int) (pos % CHUNK);
            int n = (int) Math.min(CHUNK - in, end - pos);
            byte[] chunk = chunks.get(index);
            if (chunk == null) {
                out.writeZero(n);
            } else {
                synchronized (chunk) {
                    out.writeBytes(chunk, in, n);
                }
            }
            pos += n;
        }
        return CompletableFuture.completedFuture(out);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        try {
            int length = data.readableBytes();
            BlockDeviceException bad = Writes.check(this, readOnly, offset, length, size);
            if (bad != null) {
                return CompletableFuture.failedFuture(bad);
            }
            int src = data.readerIndex();
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                long index = pos / CHUNK;
                int in = (int) (pos % CHUNK);
                int n = (int) Math.min(CHUNK - in, end - pos);
                byte[] chunk = chunks.computeIfAbsent(index, k -> new byte[CHUNK]);
                synchronized (chunk) {
                    data.getBytes(src, chunk, in, n);
                }
                src += n;
                pos += n;
            }
            return CompletableFuture.completedFuture(null);
        } finally {
            data.release();
        }
    }

    @Override
    public CompletableFuture<Void> flush() {
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        return zero(offset, length);
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        return zero(offset, length);
    }

    private CompletableFuture<Void> zero(long offset, long length) {
        BlockDeviceException bad = readOnly ? new BlockDeviceException(BlockError.EROFS, name + " is read-only")
                : Requests.checkRange(offset, length, size);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long index = pos / CHUNK;
            int in = (int) (pos % CHUNK);
            int n = (int) Math.min(CHUNK - in, end - pos);
            if (n == CHUNK) {
                chunks.remove(index);
            } else {
                byte[] chunk = chunks.get(index);
                if (chunk != null) {
                    synchronized (chunk) {
                        java.util.Arrays.fill(chunk, in, in + n, (byte) 0);
                    }
                }
            }
            pos += n;
        }
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<List<Extent>> allocation(long offset, long length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, size);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        List<Extent> out = new ArrayList<>();
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long index = pos / CHUNK;
            long stop = Math.min((index + 1) * CHUNK, end);
            boolean data = chunks.containsKey(index);
            Extent last = out.isEmpty() ? null : out.getLast();
            if (last != null && last.hole() == !data) {
                out.set(out.size() - 1, new Extent(last.offset(), stop - last.offset(), !data, !data));
            } else {
                out.add(new Extent(pos, stop - pos, !data, !data));
            }
            pos = stop;
        }
        return CompletableFuture.completedFuture(out);
    }

    @Override
    public CompletableFuture<Void> resize(long newSize) {
        if (newSize < size) {
            chunks.keySet().removeIf(i -> i * CHUNK >= newSize);
            long tail = newSize % CHUNK;
            byte[] last = chunks.get(newSize / CHUNK);
            if (last != null && tail != 0) {
                synchronized (last) {
                    java.util.Arrays.fill(last, (int) tail, CHUNK, (byte) 0);
                }
            }
        }
        size = newSize;
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public void close() {
    }

    @Override
    public String describe() {
        return "memory:" + name + "?size=" + size;
    }
}
