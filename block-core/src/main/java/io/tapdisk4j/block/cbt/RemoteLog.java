package io.tapdisk4j.block.cbt;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A log in a file reached through the image's own transport (on an NFS SR: {@code disk.cbtlog} beside
 * {@code disk.vhd}, as XenServer keeps it). Every bitmap store is a write with FUA (an NFS FILE_SYNC WRITE)
 * that completes before the data write it covers is let through, so an acknowledged write's bit is on the
 * server's stable storage. Stores of one word are chained, never in flight together, so a late reply of an
 * older value cannot overwrite a newer one.
 */
final class RemoteLog implements OpenLog {

    /** How long a log operation on the commands' side (open, close, a whole read) may take. */
    static final long TIMEOUT_SECONDS = 60;

    private final BlockDevice device;
    private final CbtLog opened;
    private final long bitmapBytes;
    /** The last store of each word still in flight. */
    private final Map<Integer, CompletableFuture<Void>> tails = new HashMap<>();

    private RemoteLog(BlockDevice device, CbtLog opened) {
        this.device = device;
        this.opened = opened;
        this.bitmapBytes = CbtLog.bitmapBytes(opened.size());
    }

    /** Takes over {@code device} (the log file, opened for writing). */
    static RemoteLog open(BlockDevice device) throws IOException {
        try {
            CbtLog current = read(device);
            await(device.write(CbtLog.CONSISTENT_AT, Buffers.direct(4).writeBytes(CbtLog.flag(false)), true),
                    "mark " + device.describe() + " inconsistent");
            return new RemoteLog(device, current);
        } catch (IOException | RuntimeException e) {
            device.close();
            throw e;
        }
    }

    static CbtLog read(BlockDevice device) throws IOException {
        return CbtLog.parse(device.describe(), device.size(), (b, at) -> {
            ByteBuf got = await(device.read(at, b.remaining()), "read " + device.describe());
            try {
                got.readBytes(b);
            } finally {
                got.release();
            }
        });
    }

    /** Writes the whole log, the flag last: a crash in between leaves it inconsistent, never half-consistent. */
    static void write(BlockDevice device, CbtLog log) throws IOException {
        ByteBuffer all = log.withConsistent(false).encode();
        await(device.write(0, Buffers.direct(all.remaining()).writeBytes(all), true), "write " + device.describe());
        if (log.consistent()) {
            await(device.write(CbtLog.CONSISTENT_AT, Buffers.direct(4).writeBytes(CbtLog.flag(true)), true),
                    "write the flag of " + device.describe());
        }
    }

    @Override
    public CbtLog opened() {
        return opened;
    }

    @Override
    public synchronized CompletableFuture<Void> store(int word, long value) {
        long at = (long) word * 8;
        int n = (int) Math.min(8, bitmapBytes - at);
        ByteBuf b = Buffers.direct(n);
        for (int i = 0; i < n; i++) {
            b.writeByte((int) (value >>> (8 * i)));
        }
        CompletableFuture<Void> before = tails.get(word);
        CompletableFuture<Void> write = before == null ? device.write(CbtLog.HEADER_SIZE + at, b, true)
                : before.handle((v, t) -> null).thenCompose(v -> device.write(CbtLog.HEADER_SIZE + at, b, true));
        tails.put(word, write);
        write.whenComplete((v, t) -> {
            synchronized (this) {
                tails.remove(word, write);
            }
        });
        return write;
    }

    @Override
    public boolean unsynced() {
        return false; // every store is stable before it completes
    }

    @Override
    public CompletableFuture<Void> sync() {
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public void close(boolean consistent) throws IOException {
        try {
            CompletableFuture<?>[] inFlight;
            synchronized (this) {
                inFlight = new ArrayList<>(tails.values()).toArray(CompletableFuture[]::new);
            }
            await(CompletableFuture.allOf(inFlight), "finish the stores into " + device.describe());
            if (consistent) {
                await(device.write(CbtLog.CONSISTENT_AT, Buffers.direct(4).writeBytes(CbtLog.flag(true)), true),
                        "mark " + device.describe() + " consistent");
            }
        } finally {
            device.close();
        }
    }

    @Override
    public String describe() {
        return device.describe();
    }

    static <T> T await(CompletableFuture<T> f, String what) throws BlockDeviceException {
        try {
            return f.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable c = BlockDeviceException.unwrap(e);
            throw new BlockDeviceException(c instanceof BlockDeviceException b ? b.error() : BlockError.EIO,
                    "changed-block log: cannot " + what + ": " + c.getMessage(), c);
        } catch (TimeoutException e) {
            throw new BlockDeviceException(BlockError.ETIMEDOUT, "changed-block log: cannot " + what + " within "
                    + TIMEOUT_SECONDS + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockDeviceException(BlockError.EIO, "changed-block log: interrupted: " + what);
        }
    }
}
