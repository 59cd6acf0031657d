package io.tapdisk4j.ring.hv.sim;

import io.netty.channel.EventLoopGroup;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.ring.hv.GrantStatus;
import io.tapdisk4j.ring.hv.HypervisorException;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

import static io.tapdisk4j.ring.hv.sim.SimLayout.*;

/**
 * The guest side of the simulation (what a domU kernel does): creates {@code DIR/dom<D>/memory} and
 * {@code grant-table}, allocates frames, grants and revokes them, and allocates unbound event-channel
 * ports by listening on {@code DIR/dom<D>/evtchn/<P>.sock}. Thread-safe.
 */
public final class SimGuest implements AutoCloseable {

    private static final VarHandle SHORT = ValueLayout.JAVA_SHORT.varHandle();
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    private final Path dir;
    private final int domid;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment memory;
    private final MemorySegment grants;
    private final int frames;
    private final int grantEntries;
    private final BitSet usedFrames = new BitSet();
    /** Released references, a stack of ints (no boxing on the per-page grant path). */
    private int[] freeRefs = new int[64];
    private int freeCount;
    private int nextRef = RESERVED_GRANT_REFS;
    private int nextPort = 1;
    private final EventLoopGroup loops;
    private final Map<Integer, GuestPort> ports = new ConcurrentHashMap<>();

    private SimGuest(Path dir, int domid, int frames, int grantEntries, EventLoopGroup loops) throws IOException {
        this.dir = dir;
        this.domid = domid;
        this.frames = frames;
        this.grantEntries = grantEntries;
        this.loops = loops;
        Path d = domainDir(dir, domid);
        Files.createDirectories(d.resolve("evtchn"));
        try (RandomAccessFile f = new RandomAccessFile(memory(dir, domid).toFile(), "rw")) {
            f.setLength((long) frames * PAGE_SIZE);
        }
        try (RandomAccessFile f = new RandomAccessFile(grantTable(dir, domid).toFile(), "rw")) {
            f.setLength((long) grantEntries * GRANT_ENTRY_SIZE);
        }
        try (FileChannel m = FileChannel.open(memory(dir, domid), StandardOpenOption.READ, StandardOpenOption.WRITE);
             FileChannel g = FileChannel.open(grantTable(dir, domid), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            memory = m.map(FileChannel.MapMode.READ_WRITE, 0, m.size(), arena);
            grants = g.map(FileChannel.MapMode.READ_WRITE, 0, g.size(), arena);
        }
    }

    /** Creates guest {@code domid} with {@code frames} pages of memory and {@code grantEntries} grant entries. */
    public static SimGuest create(Path dir, int domid, int frames, int grantEntries) throws IOException {
        return create(dir, domid, frames, grantEntries, EventLoops.shared());
    }

    public static SimGuest create(Path dir, int domid, int frames, int grantEntries, EventLoopGroup loops)
            throws IOException {
        if (domid <= 0) {
            throw new IllegalArgumentException("guests are domains >= 1");
        }
        return new SimGuest(dir, domid, frames, grantEntries, loops);
    }

    public int domid() {
        return domid;
    }

    public Path dir() {
        return dir;
    }

    public int frames() {
        return frames;
    }

    public int grantEntries() {
        return grantEntries;
    }

    /** Frame {@code g} of guest memory (4096 bytes). */
    public MemorySegment frame(int g) {
        return memory.asSlice((long) g * PAGE_SIZE, PAGE_SIZE);
    }

    public synchronized int allocateFrame() {
        int g = usedFrames.nextClearBit(0);
        if (g >= frames) {
            throw new IllegalStateException("guest " + domid + " is out of memory (" + frames + " frames)");
        }
        usedFrames.set(g);
        return g;
    }

    public synchronized void freeFrame(int g) {
        usedFrames.clear(g);
    }

    /** Grants frame {@code frame} to {@code toDomain}; returns the grant reference. */
    public int grant(int frame, int toDomain, boolean readOnly) {
        int ref = allocateRef();
        writeEntry(ref, frame, toDomain, GrantStatus.GTF_PERMIT_ACCESS
                | (readOnly ? GrantStatus.GTF_READONLY : 0));
        return ref;
    }

    /**
     * Grants frames {@code frames[first..first+n)} to {@code toDomain} under one lock (a request's pages);
     * the references go to {@code refs[0..n)}.
     */
    public synchronized void grantAll(int[] frames, int first, int n, int toDomain, boolean readOnly, int[] refs) {
        for (int i = 0; i < n; i++) {
            refs[i] = grant(frames[first + i], toDomain, readOnly);
        }
    }

    /** Writes grant entry {@code ref} as given, flags last (hostile tests use any values). */
    public void writeEntry(int ref, int frame, int toDomain, int flags) {
        long e = (long) ref * GRANT_ENTRY_SIZE;
        INT.set(grants, e + GRANT_FRAME, frame);
        SHORT.set(grants, e + GRANT_DOMID, (short) toDomain);
        SHORT.setRelease(grants, e + GRANT_FLAGS, (short) flags);
    }

    /** Ends foreign access: flags = 0. The reference stays allocated. */
    public void revoke(int ref) {
        SHORT.setRelease(grants, (long) ref * GRANT_ENTRY_SIZE + GRANT_FLAGS, (short) 0);
    }

    /** Revokes and returns the reference to the free list. */
    public synchronized void release(int ref) {
        revoke(ref);
        if (freeCount == freeRefs.length) {
            freeRefs = Arrays.copyOf(freeRefs, freeCount * 2);
        }
        freeRefs[freeCount++] = ref;
    }

    /** Revokes and frees every reference in {@code refs} under one lock (a request's transient grants). */
    public synchronized void releaseAll(int[] refs) {
        for (int ref : refs) {
            release(ref);
        }
    }

    public synchronized int allocateRef() {
        if (freeCount > 0) {
            return freeRefs[--freeCount];
        }
        if (nextRef >= grantEntries) {
            throw new IllegalStateException("guest " + domid + " is out of grant references (" + grantEntries + ")");
        }
        return nextRef++;
    }

    /**
     * Allocates an unbound event-channel port for {@code remoteDomid} (EVTCHNOP_alloc_unbound): listens on
     * its socket. {@code onEvent} runs on an event-loop thread for every (coalesced) notification.
     */
    public GuestPort allocatePort(int remoteDomid, Runnable onEvent) throws HypervisorException {
        int port;
        synchronized (this) {
            port = nextPort++;
        }
        GuestPort p = GuestPort.listen(loops, eventChannel(dir, domid, port), port, onEvent);
        ports.put(port, p);
        return p;
    }

    /** Closes every port, unmaps memory and removes the domain's files. */
    @Override
    public void close() {
        ports.values().forEach(GuestPort::close);
        ports.clear();
        arena.close();
        try (Stream<Path> s = Files.walk(domainDir(dir, domid))) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort: a temp dir goes away anyway
        }
    }
}
