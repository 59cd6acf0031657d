package io.tapdisk4j.rbd;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Collects what {@code rbd_diff_iterate2} reports: runs that hold data (or, since a snapshot, changed).
 * librbd may call back on its own threads while the call runs, so collecting is synchronized; the argument
 * it passes back is a number naming the collector here.
 */
final class RbdDiff {

    /** One run reported by librbd: {@code exists} false means it reads as zeroes now (discarded since). */
    record Run(long offset, long length, boolean exists) {
        long end() {
            return offset + length;
        }
    }

    private static final ConcurrentHashMap<Long, List<Run>> COLLECTING = new ConcurrentHashMap<>();
    private static final AtomicLong NEXT = new AtomicLong();
    static final MemorySegment CALLBACK = Native.upcall(java.lang.invoke.MethodHandles.lookup(), "onRun",
            MethodType.methodType(int.class, long.class, long.class, int.class, MemorySegment.class), Native.DIFF_CALLBACK);

    private RbdDiff() {
    }

    /** Starts collecting; pass the id as librbd's callback argument, then {@link #finish} it. */
    static long begin() {
        long id = NEXT.incrementAndGet();
        COLLECTING.put(id, new ArrayList<>());
        return id;
    }

    /** The runs collected, sorted by offset, adjacent runs of the same kind merged. */
    static List<Run> finish(long id) {
        List<Run> runs = COLLECTING.remove(id);
        List<Run> sorted;
        synchronized (runs) {
            sorted = new ArrayList<>(runs);
        }
        sorted.sort(Comparator.comparingLong(Run::offset));
        List<Run> merged = new ArrayList<>(sorted.size());
        for (Run r : sorted) {
            Run last = merged.isEmpty() ? null : merged.getLast();
            if (last != null && last.exists() == r.exists() && last.end() >= r.offset()) {
                merged.set(merged.size() - 1, new Run(last.offset(), Math.max(last.end(), r.end()) - last.offset(), r.exists()));
            } else {
                merged.add(r);
            }
        }
        return merged;
    }

    @SuppressWarnings("unused")
    private static int onRun(long offset, long length, int exists, MemorySegment arg) {
        try {
            List<Run> runs = COLLECTING.get(arg.address());
            if (runs != null && length > 0) {
                synchronized (runs) {
                    runs.add(new Run(offset, length, exists != 0));
                }
            }
            return 0;
        } catch (Throwable t) {
            return -RbdErrors.EIO; // stops the iteration; never throw into native code
        }
    }
}
