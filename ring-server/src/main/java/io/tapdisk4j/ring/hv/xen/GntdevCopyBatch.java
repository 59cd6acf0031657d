package io.tapdisk4j.ring.hv.xen;

import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.GrantStatus;
import io.tapdisk4j.ring.hv.HypervisorException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import static io.tapdisk4j.ring.hv.xen.GntdevAbi.COPY_COUNT;
import static io.tapdisk4j.ring.hv.xen.GntdevAbi.COPY_SEGMENT;
import static io.tapdisk4j.ring.hv.xen.GntdevAbi.COPY_SEGMENTS;
import static io.tapdisk4j.ring.hv.xen.GntdevAbi.SEG_DEST;
import static io.tapdisk4j.ring.hv.xen.GntdevAbi.SEG_FLAGS;
import static io.tapdisk4j.ring.hv.xen.GntdevAbi.SEG_LEN;
import static io.tapdisk4j.ring.hv.xen.GntdevAbi.SEG_SOURCE;
import static io.tapdisk4j.ring.hv.xen.GntdevAbi.SEG_STATUS;
import static io.tapdisk4j.ring.hv.xen.GntdevAbi.SIDE_DOMID;
import static io.tapdisk4j.ring.hv.xen.GntdevAbi.SIDE_OFFSET;
import static io.tapdisk4j.ring.hv.xen.GntdevAbi.SIDE_REF;
import static io.tapdisk4j.ring.hv.xen.GntdevAbi.SIDE_VIRT;

/**
 * A grant-copy batch as an array of {@code gntdev_grant_copy_segment}s laid out once in native memory and
 * handed to the kernel with one IOCTL_GNTDEV_GRANT_COPY. The local side of each segment is the address
 * of the caller's native segment; the kernel pins those pages for the copy.
 */
public final class GntdevCopyBatch implements GrantCopyBatch {

    private static final long SEG_BYTES = COPY_SEGMENT.byteSize();

    private final DeviceFd gntdev;
    private final int capacity;
    private final MemorySegment segments;
    private final MemorySegment request;
    /** Keeps each queued local segment (and so its arena) reachable until the copy ran. */
    private final MemorySegment[] locals;
    private int size;
    private boolean executed;

    GntdevCopyBatch(DeviceFd gntdev, int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity must be positive: " + capacity);
        }
        this.gntdev = gntdev;
        this.capacity = capacity;
        Arena arena = Arena.ofAuto();
        this.segments = arena.allocate(COPY_SEGMENT, capacity);
        this.request = arena.allocate(GntdevAbi.GRANT_COPY);
        this.request.set(ValueLayout.ADDRESS, COPY_SEGMENTS, segments);
        this.locals = new MemorySegment[capacity];
    }

    @Override
    public void fromGuest(int domid, int ref, int pageOffset, MemorySegment local, long localOffset, int length) {
        MemorySegment seg = next(domid, pageOffset, local, localOffset, length);
        foreign(seg, SEG_SOURCE, domid, ref, pageOffset);
        seg.set(ValueLayout.JAVA_LONG, SEG_DEST + SIDE_VIRT, local.address() + localOffset);
        seg.set(ValueLayout.JAVA_SHORT, SEG_FLAGS, (short) GntdevAbi.GNTCOPY_SOURCE_GREF);
        locals[size++] = local;
    }

    @Override
    public void toGuest(MemorySegment local, long localOffset, int domid, int ref, int pageOffset, int length) {
        MemorySegment seg = next(domid, pageOffset, local, localOffset, length);
        seg.set(ValueLayout.JAVA_LONG, SEG_SOURCE + SIDE_VIRT, local.address() + localOffset);
        foreign(seg, SEG_DEST, domid, ref, pageOffset);
        seg.set(ValueLayout.JAVA_SHORT, SEG_FLAGS, (short) GntdevAbi.GNTCOPY_DEST_GREF);
        locals[size++] = local;
    }

    /** Validates one segment as the kernel would (it fails the whole ioctl with EINVAL otherwise). */
    private MemorySegment next(int domid, int pageOffset, MemorySegment local, long localOffset, int length) {
        if (executed) {
            throw new IllegalStateException("batch already executed; clear() it first");
        }
        if (size == capacity) {
            throw new IllegalStateException("batch full (" + capacity + " segments)");
        }
        if (domid < 0 || domid > 0xFFFF) {
            throw new IllegalArgumentException("domid out of range: " + domid);
        }
        if (length <= 0 || pageOffset < 0 || pageOffset + length > GntdevAbi.XEN_PAGE_SIZE) {
            throw new IllegalArgumentException("segment offset " + pageOffset + " length " + length
                    + " crosses the guest page");
        }
        if (!local.isNative() || localOffset < 0 || local.byteSize() - localOffset < length) {
            throw new IllegalArgumentException("local side must be native memory of at least " + length
                    + " bytes from offset " + localOffset);
        }
        MemorySegment seg = segments.asSlice(size * SEG_BYTES, SEG_BYTES);
        seg.set(ValueLayout.JAVA_SHORT, SEG_LEN, (short) length);
        // The kernel writes okay before copying; a segment it never reached must not read as okay.
        seg.set(ValueLayout.JAVA_SHORT, SEG_STATUS, (short) GrantStatus.GENERAL_ERROR);
        return seg;
    }

    private static void foreign(MemorySegment seg, long side, int domid, int ref, int pageOffset) {
        seg.set(ValueLayout.JAVA_LONG, side, 0L);
        seg.set(ValueLayout.JAVA_INT, side + SIDE_REF, ref);
        seg.set(ValueLayout.JAVA_SHORT, side + SIDE_OFFSET, (short) pageOffset);
        seg.set(ValueLayout.JAVA_SHORT, side + SIDE_DOMID, (short) domid);
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public int capacity() {
        return capacity;
    }

    @Override
    public void execute() throws HypervisorException {
        executed = true;
        if (size == 0) {
            return;
        }
        request.set(ValueLayout.JAVA_INT, COPY_COUNT, size);
        int r = gntdev.ioctl(GntdevAbi.IOCTL_GNTDEV_GRANT_COPY, request);
        if (r < 0) {
            throw new HypervisorException("IOCTL_GNTDEV_GRANT_COPY of " + size + " segments failed: "
                    + DeviceFd.describe(r));
        }
    }

    @Override
    public int status(int i) {
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("segment " + i + " of " + size);
        }
        return segments.get(ValueLayout.JAVA_SHORT, i * SEG_BYTES + SEG_STATUS);
    }

    @Override
    public void clear() {
        Arrays.fill(locals, 0, size, null);
        size = 0;
        executed = false;
    }

    /** A read-only view of the queued segments exactly as the kernel will read them (the ABI test compares it with C). */
    public MemorySegment segmentBytes() {
        return segments.asSlice(0, size * SEG_BYTES).asReadOnly();
    }

    /** A read-only view of the ioctl_gntdev_grant_copy argument as of the next {@link #execute()}. */
    public MemorySegment requestBytes() {
        request.set(ValueLayout.JAVA_INT, COPY_COUNT, size);
        return request.asReadOnly();
    }
}
