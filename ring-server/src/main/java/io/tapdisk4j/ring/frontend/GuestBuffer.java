package io.tapdisk4j.ring.frontend;

import io.tapdisk4j.ring.hv.sim.SimGuest;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

/**
 * Guest pages used as an I/O buffer (not necessarily adjacent frames, as in a real guest). With persistent
 * grants every page is granted read-write once, at allocation, and reused by every request.
 */
public final class GuestBuffer implements AutoCloseable {

    private final SimGuest guest;
    private final Consumer<GuestBuffer> recycle;
    final int[] frames;
    /** Persistent grant per page, or null when requests grant pages themselves. */
    final int[] persistentRefs;

    GuestBuffer(SimGuest guest, int pages, int backendDomid, boolean persistent,
                Consumer<GuestBuffer> recycle) {
        this.guest = guest;
        this.recycle = recycle;
        this.frames = new int[pages];
        for (int i = 0; i < pages; i++) {
            frames[i] = guest.allocateFrame();
        }
        if (persistent) {
            persistentRefs = new int[pages];
            for (int i = 0; i < pages; i++) {
                persistentRefs[i] = guest.grant(frames[i], backendDomid, false);
            }
        } else {
            persistentRefs = null;
        }
    }

    public int pages() {
        return frames.length;
    }

    public int byteSize() {
        return frames.length * 4096;
    }

    public int frame(int page) {
        return frames[page];
    }

    /** Page {@code i} of the buffer, in guest memory. */
    public MemorySegment page(int i) {
        return guest.frame(frames[i]);
    }

    /** Copies {@code data} into the buffer at byte {@code offset} (across pages). */
    public void put(int offset, byte[] data) {
        int done = 0;
        while (done < data.length) {
            int at = offset + done;
            int n = Math.min(data.length - done, 4096 - at % 4096);
            MemorySegment.copy(MemorySegment.ofArray(data), done, page(at / 4096), at % 4096, n);
            done += n;
        }
    }

    /** Reads {@code length} bytes at byte {@code offset}. */
    public byte[] get(int offset, int length) {
        byte[] out = new byte[length];
        int done = 0;
        while (done < length) {
            int at = offset + done;
            int n = Math.min(length - done, 4096 - at % 4096);
            MemorySegment.copy(page(at / 4096), at % 4096, MemorySegment.ofArray(out), done, n);
            done += n;
        }
        return out;
    }

    public void fill(byte value) {
        for (int i = 0; i < frames.length; i++) {
            page(i).fill(value);
        }
    }

    /**
     * Gives the buffer back. A persistently granted buffer keeps its grants and goes back to the
     * frontend's pool, as blkfront keeps persistent grants while connected: the backend may still have
     * them mapped, so ending access and reusing the frame elsewhere would corrupt data.
     */
    @Override
    public void close() {
        if (persistentRefs != null) {
            recycle.accept(this);
            return;
        }
        for (int f : frames) {
            guest.freeFrame(f);
        }
    }
}
