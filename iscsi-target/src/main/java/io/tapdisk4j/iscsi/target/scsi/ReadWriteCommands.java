package io.tapdisk4j.iscsi.target.scsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;

import java.util.concurrent.CompletableFuture;

/**
 * READ and WRITE (6/10/12/16), WRITE AND VERIFY, VERIFY, COMPARE AND WRITE and SYNCHRONIZE CACHE
 * (SBC-3 5): the data path. Data-Out reaches the device as the buffer the transport filled, never copied
 * here; reads hand the device's buffer on as Data-In.
 */
final class ReadWriteCommands {

    private final LogicalUnit lu;
    /** COMPARE AND WRITE runs one at a time: compare and write are one atomic operation (SBC-3 5.2). */
    private CompletableFuture<?> atomicTail = CompletableFuture.completedFuture(null);

    ReadWriteCommands(LogicalUnit lu) {
        this.lu = lu;
    }

    CompletableFuture<ScsiResult> read(ScsiRequest r) {
        BlockCdb c = BlockCdb.of(r.cdb());
        c.checkNoProtection();
        lu.checkRange(c.lba(), c.count());
        long bytes = c.count() * lu.blockSize();
        if (bytes == 0) {
            return CompletableFuture.completedFuture(ScsiResult.good());
        }
        if (bytes > LogicalUnit.MAX_TRANSFER_BYTES) {
            throw ScsiException.invalidFieldInCdb("transfer length " + c.count() + " blocks");
        }
        return lu.device().read(c.lba() * lu.blockSize(), (int) bytes)
                .handle((buf, err) -> {
                    if (err != null) {
                        throw DeviceErrors.toScsi(err, false);
                    }
                    return ScsiResult.data(buf);
                });
    }

    /** WRITE, and WRITE AND VERIFY (a write that is durable before it is verified is verified). */
    CompletableFuture<ScsiResult> write(ScsiRequest r, boolean verify) {
        BlockCdb c = BlockCdb.of(r.cdb());
        ByteBuf data = r.dataOut();
        c.checkNoProtection();
        lu.checkWritable();
        lu.checkRange(c.lba(), c.count());
        long required = c.count() * lu.blockSize();
        if (required > LogicalUnit.MAX_TRANSFER_BYTES) {
            throw ScsiException.invalidFieldInCdb("transfer length " + c.count() + " blocks");
        }
        // The initiator may send less than the CDB asks for (a residual); only whole blocks are written.
        int n = (int) Math.min(required, data.readableBytes()) / lu.blockSize() * lu.blockSize();
        if (n == 0) {
            return CompletableFuture.completedFuture(ScsiResult.good(required));
        }
        boolean fua = c.fua() || verify || !lu.writeCache();
        return lu.device().write(c.lba() * lu.blockSize(), data.retainedSlice(data.readerIndex(), n), fua)
                .handle((v, err) -> {
                    if (err != null) {
                        throw DeviceErrors.toScsi(err, true);
                    }
                    return ScsiResult.good(required);
                });
    }

    CompletableFuture<ScsiResult> verify(ScsiRequest r) {
        BlockCdb c = BlockCdb.of(r.cdb());
        c.checkNoProtection();
        int bytchk = (c.flags() >>> 1) & 3;
        lu.checkRange(c.lba(), c.count());
        long bytes = c.count() * lu.blockSize();
        if (bytchk == 0 || bytes == 0) {
            return CompletableFuture.completedFuture(ScsiResult.good(bytchk == 0 ? 0 : bytes));
        }
        if (bytchk == 2) {
            throw ScsiException.invalidFieldInCdb("BYTCHK 2");
        }
        if (bytes > LogicalUnit.MAX_TRANSFER_BYTES) {
            throw ScsiException.invalidFieldInCdb("verification length " + c.count() + " blocks");
        }
        long expected = bytchk == 3 ? lu.blockSize() : bytes;
        ByteBuf given = r.dataOut().retain();
        return lu.device().read(c.lba() * lu.blockSize(), (int) bytes).handle((medium, err) -> {
            try {
                if (err != null) {
                    throw DeviceErrors.toScsi(err, false);
                }
                try {
                    if (given.readableBytes() < expected) {
                        throw ScsiException.invalidFieldInCdb("verification data shorter than the transfer");
                    }
                    for (long off = 0; off < bytes; off += expected) {
                        long at = firstDifference(given, given.readerIndex(), medium, (int) off, (int) expected);
                        if (at >= 0) {
                            throw ScsiException.miscompare(off + at);
                        }
                    }
                    return ScsiResult.good(expected);
                } finally {
                    medium.release();
                }
            } finally {
                given.release();
            }
        });
    }

    /** Index of the first differing byte of the two ranges, or -1. */
    static long firstDifference(ByteBuf a, int aIndex, ByteBuf b, int bIndex, int length) {
        if (ByteBufUtil.equals(a, aIndex, b, bIndex, length)) {
            return -1;
        }
        for (int i = 0; i < length; i++) {
            if (a.getByte(aIndex + i) != b.getByte(bIndex + i)) {
                return i;
            }
        }
        return -1;
    }

    CompletableFuture<ScsiResult> compareAndWrite(ScsiRequest r) {
        byte[] cdb = r.cdb();
        int flags = Bytes.u8(cdb, 1);
        long lba = Bytes.u64(cdb, 2);
        int count = Bytes.u8(cdb, 13);
        if ((flags & 0xe0) != 0) {
            throw ScsiException.invalidFieldInCdb("WRPROTECT");
        }
        lu.checkWritable();
        lu.checkRange(lba, count);
        if (count == 0) {
            if (r.dataOut().readableBytes() > 0) {
                throw ScsiException.invalidFieldInCdb("NUMBER OF LOGICAL BLOCKS 0 with Data-Out");
            }
            return CompletableFuture.completedFuture(ScsiResult.good());
        }
        if (count > LogicalUnit.MAX_COMPARE_AND_WRITE_BLOCKS) {
            throw ScsiException.invalidFieldInCdb("NUMBER OF LOGICAL BLOCKS " + count);
        }
        int half = count * lu.blockSize();
        if (r.dataOut().readableBytes() != 2 * half) {
            throw ScsiException.invalidFieldInCdb("Data-Out of " + r.dataOut().readableBytes() + " bytes for " + count
                    + " blocks");
        }
        ByteBuf data = r.dataOut().retain();
        boolean fua = (flags & BlockCdb.FUA) != 0 || !lu.writeCache();
        long offset = lba * lu.blockSize();
        CompletableFuture<ScsiResult> result;
        synchronized (this) {
            result = atomicTail.handle((x, y) -> null).thenCompose(ignored -> lu.device().read(offset, half))
                    .handle((medium, err) -> {
                        if (err != null) {
                            data.release();
                            throw DeviceErrors.toScsi(err, false);
                        }
                        long at;
                        try {
                            at = firstDifference(data, data.readerIndex(), medium, 0, half);
                        } finally {
                            medium.release();
                        }
                        if (at >= 0) {
                            data.release();
                            throw ScsiException.miscompare(at);
                        }
                        return data.readerIndex() + half;
                    })
                    .thenCompose(start -> lu.device().write(offset, data.retainedSlice(start, half), fua)
                            .handle((v, err) -> {
                                data.release();
                                if (err != null) {
                                    throw DeviceErrors.toScsi(err, true);
                                }
                                return ScsiResult.good(2L * half);
                            }));
            atomicTail = result;
        }
        return result;
    }

    CompletableFuture<ScsiResult> synchronizeCache(ScsiRequest r) {
        byte[] cdb = r.cdb();
        boolean sixteen = (cdb[0] & 0xff) == 0x91;
        long lba = sixteen ? Bytes.u64(cdb, 2) : Bytes.u32(cdb, 2);
        long count = sixteen ? Bytes.u32(cdb, 10) : Bytes.u16(cdb, 7);
        lu.checkRange(lba, count);
        return lu.device().flush().handle((v, err) -> {
            if (err != null) {
                throw DeviceErrors.toScsi(err, true);
            }
            return ScsiResult.good();
        });
    }
}
