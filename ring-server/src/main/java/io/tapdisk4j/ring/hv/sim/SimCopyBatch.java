package io.tapdisk4j.ring.hv.sim;

import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantStatus;
import io.tapdisk4j.ring.hv.HypervisorException;

import java.lang.foreign.MemorySegment;

/**
 * GNTTABOP_copy over the simulation's files: each segment checks its grant entry when it runs (so a grant
 * revoked a moment ago fails) and then copies directly between guest memory and the dom0 segment.
 * Consecutive segments that every check passed and that are adjacent on both sides (a guest buffer of
 * contiguous frames into one dom0 buffer) are moved by one copy: the checks and statuses stay per
 * segment, as Xen's, only the memmove calls are fewer.
 */
final class SimCopyBatch implements GrantCopyBatch {

    private final SimHypervisor hv;
    private final boolean[] toGuest;
    private final int[] domid;
    private final int[] ref;
    private final int[] offset;
    private final int[] length;
    private final MemorySegment[] local;
    private final long[] localOffset;
    private final int[] status;
    private int size;

    SimCopyBatch(SimHypervisor hv, int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity " + capacity);
        }
        this.hv = hv;
        toGuest = new boolean[capacity];
        domid = new int[capacity];
        ref = new int[capacity];
        offset = new int[capacity];
        length = new int[capacity];
        local = new MemorySegment[capacity];
        localOffset = new long[capacity];
        status = new int[capacity];
    }

    @Override
    public void fromGuest(int domid, int ref, int pageOffset, MemorySegment local, long localOffset, int length) {
        add(false, domid, ref, pageOffset, local, localOffset, length);
    }

    @Override
    public void toGuest(MemorySegment local, long localOffset, int domid, int ref, int pageOffset, int length) {
        add(true, domid, ref, pageOffset, local, localOffset, length);
    }

    private void add(boolean out, int d, int r, int off, MemorySegment l, long lOff, int len) {
        if (size == toGuest.length) {
            throw new IllegalStateException("grant copy batch full (" + size + ")");
        }
        toGuest[size] = out;
        domid[size] = d;
        ref[size] = r;
        offset[size] = off;
        local[size] = l;
        localOffset[size] = lOff;
        length[size] = len;
        status[size] = GrantStatus.GENERAL_ERROR;
        size++;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public int capacity() {
        return toGuest.length;
    }

    @Override
    public void execute() throws HypervisorException {
        SimDomain d = null;
        // The pending run: guest bytes [runGuest, +runLen) of runDomain <-> local[runFirst] at runLocal.
        int runFirst = -1;
        SimDomain runDomain = null;
        long runGuest = 0;
        long runLocal = 0;
        long runLen = 0;
        for (int i = 0; i < size; i++) {
            int off = offset[i];
            int len = length[i];
            int failed = GrantStatus.OKAY;
            long guest = 0;
            if (off < 0 || len < 0 || off + len > SimLayout.PAGE_SIZE || localOffset[i] < 0
                    || localOffset[i] + len > local[i].byteSize()) {
                failed = GrantStatus.BAD_COPY_ARG;
            } else {
                if (d == null || d.domid != domid[i]) {
                    try {
                        d = hv.domain(domid[i]);
                    } catch (GrantException e) {
                        failed = e.status();
                        d = null;
                    }
                }
                if (d != null) {
                    long frame = d.check(ref[i], SimLayout.BACKEND_DOMID, toGuest[i]);
                    if (frame < 0) {
                        failed = (int) frame;
                    } else {
                        guest = frame * SimLayout.PAGE_SIZE + off;
                    }
                }
            }
            status[i] = failed;
            if (failed != GrantStatus.OKAY) {
                // A failed segment ends the run: the segments before it are copied, it is not.
                move(runFirst, runDomain, runGuest, runLocal, runLen);
                runFirst = -1;
                continue;
            }
            if (runFirst >= 0 && d == runDomain && toGuest[i] == toGuest[runFirst] && local[i] == local[runFirst]
                    && guest == runGuest + runLen && localOffset[i] == runLocal + runLen) {
                runLen += len;
            } else {
                move(runFirst, runDomain, runGuest, runLocal, runLen);
                runFirst = i;
                runDomain = d;
                runGuest = guest;
                runLocal = localOffset[i];
                runLen = len;
            }
        }
        move(runFirst, runDomain, runGuest, runLocal, runLen);
    }

    private void move(int first, SimDomain d, long guest, long at, long len) {
        if (first < 0 || len == 0) {
            return;
        }
        if (toGuest[first]) {
            MemorySegment.copy(local[first], at, d.memory, guest, len);
        } else {
            MemorySegment.copy(d.memory, guest, local[first], at, len);
        }
    }

    @Override
    public int status(int i) {
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException(i);
        }
        return status[i];
    }

    @Override
    public void clear() {
        for (int i = 0; i < size; i++) {
            local[i] = null;
        }
        size = 0;
    }
}
