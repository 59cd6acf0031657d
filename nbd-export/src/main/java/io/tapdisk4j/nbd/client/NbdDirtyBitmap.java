package io.tapdisk4j.nbd.client;

import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.BlockStatus;
import io.tapdisk4j.block.DirtyBitmap;
import io.tapdisk4j.block.Requests;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static io.tapdisk4j.nbd.NbdProtocol.DIRTY_BITMAP;

/**
 * A server's {@code qemu:dirty-bitmap:NAME} context read through BLOCK_STATUS: runs with value 1 (bit 0 of
 * the flags) where the server says the data changed. A range is covered by as many requests as the server
 * needs (each answers a prefix).
 */
final class NbdDirtyBitmap implements DirtyBitmap {

    private final NbdBlockDevice device;
    private final String name;
    private final Duration timeout;

    NbdDirtyBitmap(NbdBlockDevice device, String name, Duration timeout) {
        this.device = device;
        this.name = name;
        this.timeout = timeout;
    }

    @Override
    public String name() {
        return name;
    }

    /** NBD does not tell a bitmap's granularity; runs come in bytes. */
    @Override
    public int granularity() {
        return 1;
    }

    @Override
    public CompletableFuture<List<BlockStatus>> statusAsync(long offset, long length) {
        BlockDeviceException bad = Requests.checkRange(offset, length, device.size());
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        return from(new ArrayList<>(), offset, offset + length);
    }

    private CompletableFuture<List<BlockStatus>> from(List<BlockStatus> acc, long pos, long end) {
        if (pos >= end) {
            return CompletableFuture.completedFuture(acc);
        }
        return device.blockStatus(DIRTY_BITMAP + name, pos, end - pos).thenCompose(runs -> {
            long at = pos;
            for (BlockStatus r : runs) {
                acc.add(new BlockStatus(r.offset(), r.length(), r.value() & 1));
                at = r.end();
            }
            return from(acc, at, end);
        });
    }

    @Override
    public List<BlockStatus> status(long offset, long length) {
        long requests = Math.max(1, length >> 30);
        try {
            return statusAsync(offset, length).get(timeout.toMillis() * requests + 1000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable c = BlockDeviceException.unwrap(e);
            throw new IllegalStateException("reading " + DIRTY_BITMAP + name + " from " + device.describe() + ": "
                    + c.getMessage(), c);
        } catch (TimeoutException e) {
            throw new IllegalStateException(new BlockDeviceException(BlockError.ETIMEDOUT,
                    device.describe() + " did not answer for " + DIRTY_BITMAP + name));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
