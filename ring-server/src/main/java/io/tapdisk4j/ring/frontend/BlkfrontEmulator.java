package io.tapdisk4j.ring.frontend;

import io.tapdisk4j.ring.backend.QueueSpec;
import io.tapdisk4j.ring.blkif.Abi;
import io.tapdisk4j.ring.blkif.Blkif;
import io.tapdisk4j.ring.blkif.BlkifCodec;
import io.tapdisk4j.ring.blkif.BlkifLayout;
import io.tapdisk4j.ring.blkif.BlkifRequest;
import io.tapdisk4j.ring.hv.HypervisorException;
import io.tapdisk4j.ring.hv.sim.GuestPort;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.hv.sim.SimLayout;
import io.tapdisk4j.ring.shared.FrontRing;
import io.tapdisk4j.ring.shared.RingPages;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * A blkfront in Java, acting as a guest under the simulated hypervisor: grants its ring pages, initialises
 * rings of any order, allocates event channels, and issues every blkif operation, direct or indirect,
 * with or without persistent grants. A buffer may be reused as soon as its request's future completes
 * (non-persistent grants are already revoked by then).
 *
 * <p>For the safety suite it can also misbehave: {@link #submitRaw} puts any request on the ring,
 * {@link #rewriteEntry} changes a published request while the backend processes it, {@link #forceReqProd}
 * overruns the ring, and {@link #guest()} revokes or rewrites grants.
 */
public final class BlkfrontEmulator implements AutoCloseable {

    private final SimGuest guest;
    private final FrontendOptions options;
    private final int backendDomid;
    private final List<FrontQueue> queues = new ArrayList<>();

    private BlkfrontEmulator(SimGuest guest, FrontendOptions options, int backendDomid) {
        this.guest = guest;
        this.options = options;
        this.backendDomid = backendDomid;
    }

    /** Sets up {@code options.queues()} rings in {@code guest}'s memory, granted to dom0. */
    public static BlkfrontEmulator create(SimGuest guest, FrontendOptions options) throws HypervisorException {
        BlkfrontEmulator e = new BlkfrontEmulator(guest, options, SimLayout.BACKEND_DOMID);
        try {
            for (int q = 0; q < options.queues(); q++) {
                e.queues.add(new FrontQueue(e, q));
            }
        } catch (HypervisorException | RuntimeException ex) {
            e.close();
            throw ex;
        }
        return e;
    }

    public SimGuest guest() {
        return guest;
    }

    public FrontendOptions options() {
        return options;
    }

    int backendDomid() {
        return backendDomid;
    }

    public Abi abi() {
        return options.abi();
    }

    public int queueCount() {
        return queues.size();
    }

    /** What the frontend publishes in xenstore per queue: ring refs and event-channel port. */
    public List<QueueSpec> queueSpecs() {
        return queues.stream().map(FrontQueue::spec).toList();
    }

    /** Entries per ring. */
    public int ringSize() {
        return queues.getFirst().ring.size();
    }

    /** A buffer of {@code pages} guest pages (granted now when the frontend uses persistent grants). */
    public GuestBuffer allocateBuffer(int pages) {
        if (options.persistent()) {
            synchronized (persistentPool) {
                ArrayDeque<GuestBuffer> pool = persistentPool.get(pages);
                if (pool != null && !pool.isEmpty()) {
                    return pool.pop();
                }
            }
        }
        return new GuestBuffer(guest, pages, backendDomid, options.persistent(), b -> {
            synchronized (persistentPool) {
                persistentPool.computeIfAbsent(b.pages(), k -> new ArrayDeque<>()).push(b);
            }
        });
    }

    private final Map<Integer, ArrayDeque<GuestBuffer>> persistentPool = new HashMap<>();

    public CompletableFuture<BlkifResponse> read(int queue, long sector, GuestBuffer buf, int offset, int length) {
        return queues.get(queue).data(Blkif.OP_READ, sector, buf, offset, length);
    }

    public CompletableFuture<BlkifResponse> write(int queue, long sector, GuestBuffer buf, int offset, int length) {
        return queues.get(queue).data(Blkif.OP_WRITE, sector, buf, offset, length);
    }

    /** WRITE_BARRIER; {@code buf} may be null for a barrier without data. */
    public CompletableFuture<BlkifResponse> barrier(int queue, long sector, GuestBuffer buf, int offset, int length) {
        return queues.get(queue).data(Blkif.OP_WRITE_BARRIER, sector, buf, offset, length);
    }

    public CompletableFuture<BlkifResponse> flush(int queue) {
        BlkifRequest r = new BlkifRequest(0);
        r.operation = Blkif.OP_FLUSH_DISKCACHE;
        return queues.get(queue).submit(r, null, null);
    }

    /**
     * FLUSH_DISKCACHE carrying data: Linux blkfront never sends one, but blkback (and so this backend)
     * takes it as a write after a flush, as other frontends may send it.
     */
    public CompletableFuture<BlkifResponse> flush(int queue, long sector, GuestBuffer buf, int offset, int length) {
        return queues.get(queue).data(Blkif.OP_FLUSH_DISKCACHE, sector, buf, offset, length);
    }

    public CompletableFuture<BlkifResponse> discard(int queue, long sector, long nrSectors, boolean secure) {
        BlkifRequest r = new BlkifRequest(0);
        r.operation = Blkif.OP_DISCARD;
        r.sectorNumber = sector;
        r.nrSectors = nrSectors;
        r.discardFlag = secure ? Blkif.DISCARD_SECURE : 0;
        return queues.get(queue).submit(r, null, null);
    }

    /**
     * Puts {@code request} on the ring exactly as given (its id too; pick ids >= 2^32 to keep clear of the
     * emulator's own) and completes with the response carrying that id.
     */
    public CompletableFuture<BlkifResponse> submitRaw(int queue, BlkifRequest request) {
        return queues.get(queue).raw(request, null);
    }

    /**
     * Like {@link #submitRaw}, then, after publishing and before notifying, lets {@code rewrite} change the
     * ring entry (ring pages, entry offset) while the backend may already be reading it.
     */
    public CompletableFuture<BlkifResponse> submitRaw(int queue, BlkifRequest request,
                                                      Consumer<RawEntry> rewrite) {
        return queues.get(queue).raw(request, rewrite);
    }

    /** The ring entry a raw request occupies: write into it to race the backend. */
    public record RawEntry(RingPages pages, long offset, int index) {
        public void write(MemorySegment bytes) {
            pages.write(bytes, 0, offset, (int) bytes.byteSize());
        }
    }

    /** Rewrites ring entry {@code index} of {@code queue} with {@code bytes}. */
    public void rewriteEntry(int queue, int index, MemorySegment bytes) {
        FrontQueue q = queues.get(queue);
        synchronized (q) {
            q.ring.pages().write(bytes, 0, q.ring.entryOffset(index), (int) bytes.byteSize());
        }
    }

    /** Publishes {@code req_prod = value} and notifies: a frontend overrunning its ring. */
    public void forceReqProd(int queue, int value) {
        FrontQueue q = queues.get(queue);
        synchronized (q) {
            q.ring.forceReqProd(value);
        }
        q.port.notifyBackend();
    }

    /** Starts queue {@code queue}'s free-running counters at {@code start} (u32 wrap-around tests). */
    public void startIndexesAt(int queue, int start) {
        FrontQueue q = queues.get(queue);
        synchronized (q) {
            q.ring.startAt(start);
        }
    }

    /**
     * Why {@code queue} stopped as Linux blkfront stops a disk (a response with an id it is not waiting for,
     * or with the wrong operation), or null while it works. Every request it waited for failed with this.
     */
    public String disabledReason(int queue) {
        return queues.get(queue).disabledReason();
    }

    /** Requests issued and not yet answered on {@code queue}. */
    public int outstanding(int queue) {
        return queues.get(queue).outstanding();
    }

    static BlkifCodec codec(Abi abi) {
        return abi.codec();
    }

    static int sectorsIn(int bytes) {
        return bytes / BlkifLayout.SECTOR_SIZE;
    }

    @Override
    public void close() {
        queues.forEach(FrontQueue::close);
        queues.clear();
    }

    /** Keeps the port of a queue for tests that need to notify by hand. */
    public GuestPort port(int queue) {
        return queues.get(queue).port;
    }
}
