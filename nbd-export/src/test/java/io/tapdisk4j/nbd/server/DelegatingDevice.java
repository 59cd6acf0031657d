package io.tapdisk4j.nbd.server;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Capability;
import io.tapdisk4j.block.Extent;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/** A device that forwards to another; tests override single operations to stall or fail them. */
class DelegatingDevice implements BlockDevice {
    final BlockDevice d;

    DelegatingDevice(BlockDevice d) {
        this.d = d;
    }

    public long size() { return d.size(); }
    public Set<Capability> capabilities() { return d.capabilities(); }
    public CompletableFuture<ByteBuf> read(long o, int l) { return d.read(o, l); }
    public CompletableFuture<Void> write(long o, ByteBuf b, boolean fua) { return d.write(o, b, fua); }
    public CompletableFuture<Void> flush() { return d.flush(); }
    public CompletableFuture<Void> discard(long o, long l, boolean s) { return d.discard(o, l, s); }
    public CompletableFuture<Void> writeZeroes(long o, long l, boolean u) { return d.writeZeroes(o, l, u); }
    public CompletableFuture<List<Extent>> allocation(long o, long l) { return d.allocation(o, l); }
    public void close() { d.close(); }
    public String describe() { return "delegating " + d.describe(); }
}
