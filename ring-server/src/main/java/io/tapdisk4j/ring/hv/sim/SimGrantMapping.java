package io.tapdisk4j.ring.hv.sim;

import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.GrantStatus;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * GNTTABOP_map_grant_ref: every page a real mmap of the guest's frame in an arena owned by this mapping
 * (consecutive frames share one mmap), checked once at map time; closing unmaps, after which any access to
 * a page throws.
 */
final class SimGrantMapping implements GrantMapping {

    private final Arena arena;
    private final MemorySegment[] pages;
    private final AtomicBoolean closed = new AtomicBoolean();

    private SimGrantMapping(Arena arena, MemorySegment[] pages) {
        this.arena = arena;
        this.pages = pages;
    }

    static SimGrantMapping map(SimDomain d, int[] refs, boolean readOnly) throws GrantException {
        if (refs.length == 0) {
            throw new GrantException(GrantStatus.BAD_COPY_ARG, "no grant refs to map");
        }
        Arena arena = Arena.ofShared();
        MemorySegment[] pages = new MemorySegment[refs.length];
        try {
            long[] frames = new long[refs.length];
            for (int i = 0; i < refs.length; i++) {
                long frame = d.check(refs[i], SimLayout.BACKEND_DOMID, !readOnly);
                if (frame < 0) {
                    throw new GrantException((int) frame, "cannot map grant " + refs[i] + " of domain " + d.domid);
                }
                frames[i] = frame;
            }
            // One mmap per run of consecutive frames, as gntdev maps a whole batch into one VMA: a page per
            // mmap would spend the process's vm.max_map_count on a few busy rings.
            FileChannel.MapMode mode = readOnly ? FileChannel.MapMode.READ_ONLY : FileChannel.MapMode.READ_WRITE;
            int i = 0;
            while (i < refs.length) {
                int run = 1;
                while (i + run < refs.length && frames[i + run] == frames[i] + run) {
                    run++;
                }
                MemorySegment m = d.memoryChannel().map(mode, frames[i] * SimLayout.PAGE_SIZE,
                        (long) run * SimLayout.PAGE_SIZE, arena);
                for (int k = 0; k < run; k++) {
                    pages[i + k] = m.asSlice((long) k * SimLayout.PAGE_SIZE, SimLayout.PAGE_SIZE);
                }
                i += run;
            }
            return new SimGrantMapping(arena, pages);
        } catch (GrantException e) {
            arena.close();
            throw e;
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw new GrantException(GrantStatus.GENERAL_ERROR, "mapping grants of domain " + d.domid + " failed: " + e);
        }
    }

    @Override
    public int pageCount() {
        return pages.length;
    }

    @Override
    public MemorySegment page(int i) {
        return pages[i];
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }
}
