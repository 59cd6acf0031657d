package io.tapdisk4j.vhd;

import io.netty.buffer.ByteBuf;
import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.Buffers;

import java.util.concurrent.TimeUnit;
import java.util.Arrays;
import java.util.Random;

/** Test helpers: a raw model of a disk and blocking reads/writes through a device. */
final class Disks {

    private Disks() {
    }

    static byte[] read(BlockDevice d, long offset, int length) {
        ByteBuf b = d.read(offset, length).orTimeout(1, TimeUnit.MINUTES).join();
        try {
            byte[] out = new byte[length];
            b.getBytes(b.readerIndex(), out);
            return out;
        } finally {
            b.release();
        }
    }

    static void write(BlockDevice d, long offset, byte[] data) {
        d.write(offset, Buffers.direct(data.length).writeBytes(data), false).orTimeout(1, TimeUnit.MINUTES).join();
    }

    /** Writes random data at random offsets (sector aligned unless told) into the device and the model. */
    static void scribble(BlockDevice d, byte[] model, Random r, int writes, int maxLength, boolean aligned) {
        for (int i = 0; i < writes; i++) {
            int len = 1 + r.nextInt(maxLength);
            if (aligned) {
                len = Math.max(512, len / 512 * 512);
            }
            long off = (long) r.nextInt(model.length - len + 1);
            if (aligned) {
                off = off / 512 * 512;
            }
            byte[] data = new byte[len];
            r.nextBytes(data);
            write(d, off, data);
            System.arraycopy(data, 0, model, (int) off, len);
        }
    }

    /** The image at {@code uri} (opened read-only) holds the model and passes {@code vdi check}. */
    static void assertImage(VdiOperations vdi, String uri, byte[] model) throws java.io.IOException {
        try (BlockDevice d = io.tapdisk4j.block.BlockDevices.loadDefault().open(uri,
                io.tapdisk4j.block.OpenOptions.readOnlyOptions())) {
            org.junit.jupiter.api.Assertions.assertEquals(model.length, d.size(), uri + ": size");
            assertSame(model, d, uri);
        }
        VhdChecker.Result r = vdi.check(uri);
        org.junit.jupiter.api.Assertions.assertTrue(r.ok(), "check " + uri + ": " + r);
    }

    /** Compares the whole device with the model, naming the first differing offset. */
    static void assertSame(byte[] model, BlockDevice d, String what) {
        int chunk = 1 << 20;
        for (int off = 0; off < model.length; off += chunk) {
            int n = Math.min(chunk, model.length - off);
            byte[] got = read(d, off, n);
            int mismatch = Arrays.mismatch(got, 0, n, model, off, off + n);
            if (mismatch >= 0) {
                throw new AssertionError(what + ": contents differ at byte " + (off + mismatch));
            }
        }
    }
}
