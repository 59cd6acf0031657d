package io.tapdisk4j.ring.hv.sim;

import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantStatus;
import io.tapdisk4j.ring.hv.HypervisorException;

import java.lang.foreign.MemorySegment;

/**
 * GNTTABOP_copy over the simulation's files: each segment checks its grant entry when it runs (so a grant
 * revoked a moment ago fails) and then copies directly between guest memory and the dom0 segment.
 */
final class SimCopyBatch implements GrantCopyBatch {

    private final SimHypervisor hv;
    private final boolean[] toGuest;
    private final int[] domid;
    private final int[] ref;
    private final int[] offset;
    private final int[] length;
    private final MemorySegment[] local;
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
        status = new int[capacity];
    }

    @Override
    public void fromGuest(int domid, int ref, int pageOffset, MemorySegment local, int length) {
        add(false, domid, ref, pageOffset, local, length);
    }

    @Override
    public void toGuest(MemorySegment local, int domid, int ref, int pageOffset, int length) {
        add(true, domid, ref, pageOffset, local, length);
    }

    private void add(boolean out, int d, int r, int off, MemorySegment l, int len) {
        if (size == toGuest.length) {
            throw new IllegalStateException("grant copy batch full (" + size + ")");
        }
        toGuest[size] = out;
        domid[size] = d;
        ref[size] = r;
        offset[size] = off;
        local[size] = l;
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
        for (int i = 0; i < size; i++) {
            status[i] = copyOne(i);
        }
    }

    private int copyOne(int i) {
        int off = offset[i];
        int len = length[i];
        if (off < 0 || len < 0 || off + len > SimLayout.PAGE_SIZE || len > local[i].byteSize()) {
            return GrantStatus.BAD_COPY_ARG;
        }
        SimDomain d;
        try {
            d = hv.domain(domid[i]);
        } catch (GrantException e) {
            return e.status();
        }
        long frame = d.check(ref[i], SimLayout.BACKEND_DOMID, toGuest[i]);
        if (frame < 0) {
            return (int) frame;
        }
        long guestOffset = frame * SimLayout.PAGE_SIZE + off;
        if (toGuest[i]) {
            MemorySegment.copy(local[i], 0, d.memory, guestOffset, len);
        } else {
            MemorySegment.copy(d.memory, guestOffset, local[i], 0, len);
        }
        return GrantStatus.OKAY;
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
