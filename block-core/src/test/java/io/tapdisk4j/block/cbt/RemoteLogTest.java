package io.tapdisk4j.block.cbt;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.ForwardingBlockDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A log on the image's storage (as on NFS), with its writes held back by the test: a data write goes down only
 * after the store of its bit has completed, stores of one word never overlap, a failed store fails the data
 * write and leaves the log inconsistent.
 */
@Timeout(60)
class RemoteLogTest {

    /** A disk whose log is exactly 4,096 bytes: 48 of header, 4,048 of bitmap. */
    private static final long DISK = 4048L * 8 * CbtLog.BLOCK_SIZE;

    /** Log storage whose writes wait for the test to complete them, one by one. */
    private static final class HeldWrites extends ForwardingBlockDevice {
        final ArrayDeque<Runnable> held = new ArrayDeque<>();
        volatile boolean holding;
        volatile boolean failNext;

        HeldWrites(BlockDevice d) {
            super(d);
        }

        @Override
        public synchronized CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
            assertTrue(fua, "log stores are stable writes");
            if (!holding) {
                return delegate.write(offset, data, fua);
            }
            CompletableFuture<Void> f = new CompletableFuture<>();
            boolean fail = failNext;
            failNext = false;
            held.add(() -> {
                if (fail) {
                    data.release();
                    f.completeExceptionally(new BlockDeviceException(BlockError.EIO, "server gone"));
                } else {
                    delegate.write(offset, data, fua).whenComplete((v, t) -> f.complete(null));
                }
            });
            return f;
        }

        synchronized int inFlight() {
            return held.size();
        }

        void completeOne() {
            Runnable r;
            synchronized (this) {
                r = held.poll();
            }
            r.run();
        }
    }

    /** The data device: records the offsets of the writes that reached it. */
    private static final class Recording extends ForwardingBlockDevice {
        final List<Long> writes = new ArrayList<>();

        Recording(BlockDevice d) {
            super(d);
        }

        @Override
        public synchronized CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
            writes.add(offset);
            return delegate.write(offset, data, fua);
        }
    }

    private static ByteBuf sector() {
        return Buffers.direct(512).writeZero(512);
    }

    @Test
    void dataWritesWaitForTheirStableStoreAndStoresOfOneWordAreChained() throws Exception {
        BlockDevice storage = BlockDevices.loadDefault().open("memory:?size=4096");
        RemoteLog.write(storage, CbtLog.empty(CbtLog.NIL, DISK));
        HeldWrites logDev = new HeldWrites(storage);
        Recording data = new Recording(BlockDevices.loadDefault().open("null:?size=" + DISK));
        ChangeTrackingDevice dev = new ChangeTrackingDevice(data, RemoteLog.open(logDev));
        assertFalse(RemoteLog.read(storage).consistent(), "marked inconsistent (stably) on open");

        logDev.holding = true;
        CompletableFuture<Void> w0 = dev.write(0, sector(), false);
        CompletableFuture<Void> w1 = dev.write(CbtLog.BLOCK_SIZE, sector(), false); // the same bitmap word
        assertEquals(1, logDev.inFlight(), "the second store of word 0 waits for the first");
        assertTrue(data.writes.isEmpty(), "no data write before its bit is stored");
        logDev.completeOne();
        w0.get(10, TimeUnit.SECONDS);
        assertEquals(List.of(0L), data.writes);
        assertFalse(w1.isDone());
        assertEquals(1, logDev.inFlight(), "now the second store is sent");
        logDev.completeOne();
        w1.get(10, TimeUnit.SECONDS);
        assertEquals(List.of(0L, (long) CbtLog.BLOCK_SIZE), data.writes);

        dev.write(512, sector(), false).get(10, TimeUnit.SECONDS); // marked: no store at all
        assertEquals(0, logDev.inFlight());

        logDev.holding = false;
        dev.close();
        CbtLog closed = RemoteLog.read(storage);
        assertTrue(closed.consistent());
        BitSet want = new BitSet();
        want.set(0, 2);
        assertEquals(want, closed.bits());
    }

    @Test
    void aFailedStoreFailsTheWriteAndLeavesTheLogInconsistent() throws Exception {
        BlockDevice storage = BlockDevices.loadDefault().open("memory:?size=4096");
        RemoteLog.write(storage, CbtLog.empty(CbtLog.NIL, DISK));
        HeldWrites logDev = new HeldWrites(storage);
        Recording data = new Recording(BlockDevices.loadDefault().open("null:?size=" + DISK));
        ChangeTrackingDevice dev = new ChangeTrackingDevice(data, RemoteLog.open(logDev));
        logDev.holding = true;
        logDev.failNext = true;
        CompletableFuture<Void> w = dev.write(7L * CbtLog.BLOCK_SIZE, sector(), false);
        logDev.completeOne();
        ExecutionException e = assertThrows(ExecutionException.class, () -> w.get(10, TimeUnit.SECONDS));
        assertInstanceOf(BlockDeviceException.class, e.getCause());
        assertTrue(data.writes.isEmpty(), "a write whose bit could not be stored is not sent");
        logDev.holding = false;
        dev.close();
        assertFalse(RemoteLog.read(storage).consistent(), "the log cannot vouch for that write: inconsistent");
    }
}
