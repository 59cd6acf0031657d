package io.tapdisk4j.iscsi.target.scsi;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.Buffers;
import io.tapdisk4j.block.Extent;

import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Thin provisioning (SBC-3 4.7): WRITE SAME (10/16) with and without UNMAP, UNMAP, and GET LBA STATUS
 * answered from the device's allocation map, so a thin image stays thin and reports its holes.
 */
final class ProvisioningCommands {

    /** Pattern writes of WRITE SAME go to the device in pieces of this size. */
    private static final int PATTERN_CHUNK = 1 << 20;
    /** GET LBA STATUS looks at most this far ahead per command. */
    private static final long STATUS_WINDOW = 1L << 30;
    private static final int MAX_STATUS_DESCRIPTORS = 64;

    private final LogicalUnit lu;

    ProvisioningCommands(LogicalUnit lu) {
        this.lu = lu;
    }

    CompletableFuture<ScsiResult> writeSame(ScsiRequest r) {
        byte[] cdb = r.cdb();
        boolean sixteen = (cdb[0] & 0xff) == 0x93;
        int flags = Bytes.u8(cdb, 1);
        long lba = sixteen ? Bytes.u64(cdb, 2) : Bytes.u32(cdb, 2);
        long count = sixteen ? Bytes.u32(cdb, 10) : Bytes.u16(cdb, 7);
        boolean unmap = (flags & 0x08) != 0;
        boolean noDataOut = sixteen && (flags & 0x01) != 0;
        if ((flags & 0xe0) != 0) {
            throw ScsiException.invalidFieldInCdb("WRPROTECT");
        }
        if ((flags & 0x10) != 0) {
            throw ScsiException.invalidFieldInCdb("ANCHOR");
        }
        lu.checkWritable();
        if (count == 0) {
            throw ScsiException.invalidFieldInCdb("NUMBER OF LOGICAL BLOCKS 0 (WSNZ)");
        }
        lu.checkRange(lba, count);
        if (count > lu.maxWriteSameBlocks()) {
            throw ScsiException.invalidFieldInCdb("NUMBER OF LOGICAL BLOCKS " + count + " above the maximum");
        }
        int bs = lu.blockSize();
        ByteBuf block = r.dataOut();
        if (!noDataOut && block.readableBytes() != bs) {
            throw ScsiException.invalidFieldInCdb("WRITE SAME with " + block.readableBytes() + " bytes of data");
        }
        boolean zero = noDataOut || isZero(block, bs);
        long offset = lba * bs;
        long length = count * bs;
        CompletableFuture<Void> done;
        if (zero) {
            done = lu.device().writeZeroes(offset, length, unmap && lu.thin());
        } else {
            done = writePattern(block.retainedSlice(block.readerIndex(), bs), offset, length);
        }
        return done.handle((v, err) -> {
            if (err != null) {
                throw DeviceErrors.toScsi(err, true);
            }
            return ScsiResult.good(noDataOut ? 0 : bs);
        });
    }

    private static boolean isZero(ByteBuf b, int length) {
        for (int i = 0; i < length; i++) {
            if (b.getByte(b.readerIndex() + i) != 0) {
                return false;
            }
        }
        return true;
    }

    /** The block repeated over the range, written piece by piece; takes over {@code block}. */
    private CompletableFuture<Void> writePattern(ByteBuf block, long offset, long length) {
        int bs = block.readableBytes();
        int chunk = (int) Math.min(length, PATTERN_CHUNK);
        ByteBuf pattern = Buffers.direct(chunk);
        for (int i = 0; i < chunk; i += bs) {
            pattern.writeBytes(block, block.readerIndex(), bs);
        }
        block.release();
        CompletableFuture<Void> chain = CompletableFuture.completedFuture(null);
        for (long at = 0; at < length; at += chunk) {
            long where = offset + at;
            int n = (int) Math.min(chunk, length - at);
            chain = chain.thenCompose(v -> lu.device().write(where, pattern.retainedSlice(0, n), !lu.writeCache()));
        }
        return chain.whenComplete((v, e) -> pattern.release());
    }

    CompletableFuture<ScsiResult> unmap(ScsiRequest r) {
        if (!lu.thin()) {
            throw ScsiException.invalidOpcode(0x42);
        }
        byte[] cdb = r.cdb();
        if ((cdb[1] & 0x01) != 0) {
            throw ScsiException.invalidFieldInCdb("ANCHOR");
        }
        lu.checkWritable();
        int listLength = Bytes.u16(cdb, 7);
        ByteBuf p = r.dataOut();
        if (listLength == 0) {
            return CompletableFuture.completedFuture(ScsiResult.good());
        }
        if (listLength < 8 || p.readableBytes() < 8) {
            throw ScsiException.parameterListLength("UNMAP parameter list of " + listLength + " bytes");
        }
        int base = p.readerIndex();
        int available = Math.min(listLength, p.readableBytes());
        int descriptorBytes = Math.min(p.getUnsignedShort(base + 2), available - 8);
        int n = descriptorBytes / 16;
        if (n > LogicalUnit.MAX_UNMAP_DESCRIPTORS) {
            throw ScsiException.invalidFieldInParameters(n + " UNMAP descriptors");
        }
        long[][] ranges = new long[n][];
        for (int i = 0; i < n; i++) {
            long lba = p.getLong(base + 8 + 16 * i);
            long count = p.getUnsignedInt(base + 16 + 16 * i);
            lu.checkRange(lba, count);
            ranges[i] = new long[] {lba, count};
        }
        CompletableFuture<Void> chain = CompletableFuture.completedFuture(null);
        int bs = lu.blockSize();
        for (long[] range : ranges) {
            if (range[1] > 0) {
                chain = chain.thenCompose(v -> lu.device().discard(range[0] * bs, range[1] * bs, false));
            }
        }
        return chain.handle((v, err) -> {
            if (err != null) {
                throw DeviceErrors.toScsi(err, true);
            }
            return ScsiResult.good(listLength);
        });
    }

    CompletableFuture<ScsiResult> getLbaStatus(ScsiRequest r) {
        byte[] cdb = r.cdb();
        long lba = Bytes.u64(cdb, 2);
        long allocation = Bytes.u32(cdb, 10);
        if (Long.compareUnsigned(lba, lu.blocks()) >= 0) {
            throw ScsiException.lbaOutOfRange(lba, 1);
        }
        int bs = lu.blockSize();
        long offset = lba * bs;
        long length = Math.min(lu.blocks() * bs - offset, STATUS_WINDOW);
        return lu.device().allocation(offset, length).handle((extents, err) -> {
            if (err != null) {
                throw DeviceErrors.toScsi(err, false);
            }
            byte[] d = describe(extents, lba, bs);
            return ScsiResult.data(d, (int) Math.min(allocation, Integer.MAX_VALUE));
        });
    }

    private static byte[] describe(List<Extent> extents, long firstLba, int bs) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long runStart = firstLba;
        long runEnd = firstLba;
        int runStatus = -1;
        int written = 0;
        for (Extent e : extents) {
            long start = Math.max(firstLba, e.offset() / bs);
            long end = (e.end() + bs - 1) / bs;
            if (runStatus >= 0) {
                start = Math.max(start, runEnd);
            }
            if (end <= start) {
                continue;
            }
            int status = e.hole() ? 1 : 0;
            if (status == runStatus && start == runEnd) {
                runEnd = end;
                continue;
            }
            if (runStatus >= 0) {
                if (written == MAX_STATUS_DESCRIPTORS) {
                    break;
                }
                writeDescriptor(out, runStart, runEnd - runStart, runStatus);
                written++;
            }
            runStart = start;
            runEnd = end;
            runStatus = status;
        }
        if (runStatus >= 0 && written < MAX_STATUS_DESCRIPTORS) {
            writeDescriptor(out, runStart, runEnd - runStart, runStatus);
        }
        byte[] descriptors = out.toByteArray();
        byte[] d = new byte[8 + descriptors.length];
        Bytes.putInt(d, 0, descriptors.length + 4);
        System.arraycopy(descriptors, 0, d, 8, descriptors.length);
        return d;
    }

    private static void writeDescriptor(ByteArrayOutputStream out, long lba, long count, int status) {
        while (count > 0) {
            long n = Math.min(count, 0xffffffffL);
            byte[] b = new byte[16];
            Bytes.putLong(b, 0, lba);
            Bytes.putInt(b, 8, (int) n);
            b[12] = (byte) status;
            out.writeBytes(b);
            lba += n;
            count -= n;
        }
    }

}
