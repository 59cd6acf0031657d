package io.tapdisk4j.ring.shared;

import io.tapdisk4j.ring.blkif.BlkifLayout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The pages of one shared ring as the backend sees them: {@code 2^order} separately mapped 4 KiB pages
 * ({@code GrantMapping.page(i)}, not necessarily adjacent in dom0), addressed as one byte range. An entry
 * may straddle two pages, so every access goes through {@link #read} and {@link #write}, which split.
 *
 * <p>The four shared indexes live in page 0 and are accessed with acquire/release semantics through an
 * aligned int VarHandle, which gives the ordering of Xen's {@code xen_rmb}/{@code xen_wmb}; {@link #fullFence}
 * is {@code xen_mb}.
 */
public final class RingPages {

    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    static {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new ExceptionInInitializerError("the shared ring indexes are little-endian; this is a big-endian CPU");
        }
    }

    private final MemorySegment[] pages;
    private final long byteSize;

    public RingPages(MemorySegment... pages) {
        if (pages.length == 0 || Integer.bitCount(pages.length) != 1) {
            throw new IllegalArgumentException("a ring has 2^order pages, got " + pages.length);
        }
        for (MemorySegment p : pages) {
            if (p.byteSize() < BlkifLayout.PAGE_SIZE) {
                throw new IllegalArgumentException("ring page of " + p.byteSize() + " bytes");
            }
        }
        this.pages = pages.clone();
        this.byteSize = (long) pages.length * BlkifLayout.PAGE_SIZE;
    }

    public int pageCount() {
        return pages.length;
    }

    public long byteSize() {
        return byteSize;
    }

    public int getAcquire(int headerOffset) {
        return (int) INT.getAcquire(pages[0], (long) headerOffset);
    }

    public int getPlain(int headerOffset) {
        return (int) INT.get(pages[0], (long) headerOffset);
    }

    public void setRelease(int headerOffset, int value) {
        INT.setRelease(pages[0], (long) headerOffset, value);
    }

    public void setPlain(int headerOffset, int value) {
        INT.set(pages[0], (long) headerOffset, value);
    }

    public static void fullFence() {
        VarHandle.fullFence();
    }

    /** Copies {@code length} bytes at ring offset {@code offset} into {@code dst} (one pass, split at pages). */
    public void read(long offset, MemorySegment dst, long dstOffset, int length) {
        check(offset, length);
        while (length > 0) {
            int page = (int) (offset >>> 12);
            int within = (int) (offset & (BlkifLayout.PAGE_SIZE - 1));
            int n = Math.min(length, BlkifLayout.PAGE_SIZE - within);
            MemorySegment.copy(pages[page], within, dst, dstOffset, n);
            offset += n;
            dstOffset += n;
            length -= n;
        }
    }

    /** Copies {@code length} bytes of {@code src} to ring offset {@code offset}. */
    public void write(MemorySegment src, long srcOffset, long offset, int length) {
        check(offset, length);
        while (length > 0) {
            int page = (int) (offset >>> 12);
            int within = (int) (offset & (BlkifLayout.PAGE_SIZE - 1));
            int n = Math.min(length, BlkifLayout.PAGE_SIZE - within);
            MemorySegment.copy(src, srcOffset, pages[page], within, n);
            offset += n;
            srcOffset += n;
            length -= n;
        }
    }

    private void check(long offset, int length) {
        if (offset < 0 || length < 0 || offset + length > byteSize) {
            throw new IndexOutOfBoundsException("ring access " + offset + "+" + length + " beyond " + byteSize);
        }
    }
}
