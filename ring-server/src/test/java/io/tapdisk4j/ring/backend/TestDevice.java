package io.tapdisk4j.ring.backend;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.Extent;
import io.tapdisk4j.block.local.MemoryDevice;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A memory device whose capabilities can be trimmed, which records the order of operations, and which can
 * hold operations back ({@link #hold}) until {@link #releaseHeld()}: to test barriers, close and capability rules.
 */
final class TestDevice implements BlockDevice {

    final MemoryDevice inner;
    private final Set<Capability> caps;
    final List<String> log = new ArrayList<>();
    private boolean hold;
    private final List<Runnable> held = new ArrayList<>();
    /** Released once per operation held back. */
    final java.util.concurrent.Semaphore heldSignal = new java.util.concurrent.Semaphore(0);
    /** When set, reads return this many bytes fewer than asked (a short read). */
    volatile int shortBy;

    TestDevice(long size, Set<Capability> remove) {
        inner = new MemoryDevice("t", size);
        caps = EnumSet.copyOf(inner.capabilities());
        caps.removeAll(remove);
    }

    synchronized void hold(boolean on) {
        hold = on;
    }

    void releaseHeld() {
        List<Runnable> run;
        synchronized (this) {
            hold = false;
            run = new ArrayList<>(held);
            held.clear();
        }
        run.forEach(Runnable::run);
    }

    synchronized int heldCount() {
        return held.size();
    }

    synchronized List<String> log() {
        return new ArrayList<>(log);
    }

    private <T> CompletableFuture<T> maybeHold(String what, java.util.function.Supplier<CompletableFuture<T>> op) {
        CompletableFuture<T> out = new CompletableFuture<>();
        Runnable run = () -> {
            synchronized (this) {
                log.add(what);
            }
            op.get().whenComplete((v, e) -> {
                if (e != null) {
                    out.completeExceptionally(e);
                } else {
                    out.complete(v);
                }
            });
        };
        synchronized (this) {
            if (hold) {
                held.add(run);
                heldSignal.release();
                return out;
            }
        }
        run.run();
        return out;
    }

    @Override
    public long size() {
        return inner.size();
    }

    @Override
    public Set<Capability> capabilities() {
        return caps;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return maybeHold("read " + offset, () -> {
            int s = shortBy;
            if (s == 0) {
                return inner.read(offset, length);
            }
            return inner.read(offset, length - s);
        });
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        return maybeHold("write " + offset + (fua ? " fua" : ""), () -> inner.write(offset, data, fua));
    }

    @Override
    public CompletableFuture<Void> flush() {
        return maybeHold("flush", inner::flush);
    }

    @Override
    public CompletableFuture<Void> discard(long offset, long length, boolean secure) {
        return maybeHold("discard " + offset + "+" + length + (secure ? " secure" : ""),
                () -> inner.discard(offset, length, secure));
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, boolean mayUnmap) {
        return inner.writeZeroes(offset, length, mayUnmap);
    }

    @Override
    public CompletableFuture<List<Extent>> allocation(long offset, long length) {
        return inner.allocation(offset, length);
    }

    @Override
    public void close() {
        releaseHeld();
        inner.close();
    }

    @Override
    public String describe() {
        return "test device";
    }
}
