package io.tapdisk4j.nbd.client;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.BlockError;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.BlockStatus;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One request of the client backend, alive until the server acknowledges it: a WRITE keeps its dom0
 * buffer (one reference) so that it can be sent again on a new connection after the old one died.
 * Reply state (a READ's assembled data, block status extents, a reported error) belongs to the current
 * attempt and is reset when the request is retried.
 */
final class NbdClientRequest {

    final int type;
    final int flags;
    final long offset;
    final long length;
    /** A WRITE's payload, held until the request completes. */
    final ByteBuf data;
    final CompletableFuture<Object> future = new CompletableFuture<>();
    final long deadlineNanos;
    /** For BLOCK_STATUS: the meta context whose runs are wanted (the server answers for every agreed one). */
    final String context;
    int attempts;

    // Per attempt, touched only on the connection's event loop.
    ByteBuf readData;
    /** Whether readData is our assembly buffer (else it is the single chunk the server sent). */
    private boolean assembled;
    long covered;
    /** BLOCK_STATUS runs of {@link #context} (null until its chunk arrived). */
    List<BlockStatus> runs;
    int errno;
    String errorMessage;

    NbdClientRequest(int type, int flags, long offset, long length, ByteBuf data, long deadlineNanos) {
        this(type, flags, offset, length, data, deadlineNanos, null);
    }

    NbdClientRequest(int type, int flags, long offset, long length, ByteBuf data, long deadlineNanos, String context) {
        this.context = context;
        this.type = type;
        this.flags = flags;
        this.offset = offset;
        this.length = length;
        this.data = data;
        this.deadlineNanos = deadlineNanos;
    }

    /** Data from an OFFSET_DATA chunk (one reference handed over). */
    boolean addData(long at, ByteBuf chunk) {
        long rel = at - offset;
        int n = chunk.readableBytes();
        if (rel < 0 || rel + n > length) {
            chunk.release();
            return false;
        }
        if (readData == null && rel == 0 && n == length) {
            readData = chunk; // the common case: one chunk, no copy
        } else {
            assembly();
            readData.setBytes((int) rel, chunk, chunk.readerIndex(), n);
            chunk.release();
        }
        covered += n;
        return true;
    }

    boolean addHole(long at, long n) {
        long rel = at - offset;
        if (rel < 0 || rel + n > length) {
            return false;
        }
        assembly();
        readData.setZero((int) rel, (int) n);
        covered += n;
        return true;
    }

    private void assembly() {
        if (readData == null) {
            readData = Buffers.zeroes((int) length);
            assembled = true;
        } else if (!assembled) {
            // a whole-range chunk followed by more chunks (a misbehaving server): move it into our own buffer
            ByteBuf own = Buffers.zeroes((int) length);
            own.setBytes(0, readData, readData.readerIndex(), readData.readableBytes());
            readData.release();
            readData = own;
            assembled = true;
        }
    }

    /** Drops the state of a failed attempt before a retry. */
    void resetAttempt() {
        if (readData != null) {
            readData.release();
            readData = null;
        }
        assembled = false;
        covered = 0;
        runs = null;
        errno = 0;
        errorMessage = null;
    }

    /** Completes successfully with {@code value}; releases what the request held. */
    void succeed(Object value) {
        releaseData();
        if (!future.complete(value) && value instanceof ByteBuf b) {
            b.release();
        }
    }

    void fail(BlockError error, String message) {
        resetAttempt();
        releaseData();
        future.completeExceptionally(new BlockDeviceException(error, message));
    }

    private void releaseData() {
        if (data != null && data.refCnt() > 0) {
            data.release();
        }
    }
}
