package io.tapdisk4j.ring.hv.sim;

import io.netty.channel.EventLoopGroup;
import io.tapdisk4j.block.EventLoops;
import io.tapdisk4j.ring.hv.EventChannel;
import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.GrantStatus;
import io.tapdisk4j.ring.hv.Hypervisor;
import io.tapdisk4j.ring.hv.HypervisorException;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The simulated hypervisor of ../shared/sim-xen-abi.md, from dom0's side: guests' memory and grant-table
 * files mapped MAP_SHARED, grant entries checked at copy time (copy) or map time (map), each grant map a
 * real mmap in its own arena so a use after unmap throws, and event channels as Unix stream sockets served
 * by the shared Netty event loops (no thread per channel).
 */
public final class SimHypervisor implements Hypervisor {

    private final Path dir;
    private final EventLoopGroup loops;
    private final ConcurrentHashMap<Integer, SimDomain> domains = new ConcurrentHashMap<>();
    private final Set<SimEventChannel> channels = ConcurrentHashMap.newKeySet();
    /** Mappings of guests whose files were replaced; kept (like a dead domain's pages) until close. */
    private final Set<SimDomain> retired = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    public SimHypervisor(Path dir) {
        this(dir, EventLoops.shared());
    }

    public SimHypervisor(Path dir, EventLoopGroup loops) {
        this.dir = Objects.requireNonNull(dir);
        this.loops = loops;
    }

    public Path dir() {
        return dir;
    }

    @Override
    public String name() {
        return "sim";
    }

    @Override
    public GrantCopyBatch newCopyBatch(int capacity) {
        return new SimCopyBatch(this, capacity);
    }

    @Override
    public GrantMapping map(int domid, int[] refs, boolean readOnly) throws GrantException {
        return SimGrantMapping.map(domain(domid), refs, readOnly);
    }

    @Override
    public EventChannel bindInterdomain(int domid, int remotePort, Runnable onEvent) throws HypervisorException {
        return bindInterdomain(domid, remotePort, onEvent, null);
    }

    /** The connection is registered on {@code loop} when given, so events arrive on the ring's own thread. */
    @Override
    public EventChannel bindInterdomain(int domid, int remotePort, Runnable onEvent, io.netty.channel.EventLoop loop)
            throws HypervisorException {
        checkOpen();
        // A new connection is the moment a recreated guest (same domid, new files) would be noticed.
        refresh(domid);
        SimEventChannel ch = SimEventChannel.connect(loop != null ? loop : loops,
                SimLayout.eventChannel(dir, domid, remotePort), remotePort, onEvent, channels::remove);
        channels.add(ch);
        return ch;
    }

    /** dom0's mapping of guest {@code domid}, opened on first use. */
    SimDomain domain(int domid) throws GrantException {
        checkOpenUnchecked();
        SimDomain d = domains.get(domid);
        if (d != null) {
            return d;
        }
        synchronized (domains) {
            d = domains.get(domid);
            if (d == null) {
                d = SimDomain.open(dir, domid);
                domains.put(domid, d);
            }
            return d;
        }
    }

    private void refresh(int domid) {
        synchronized (domains) {
            SimDomain d = domains.get(domid);
            if (d != null && !Objects.equals(d.fileKey, SimDomain.fileKey(dir, domid))) {
                // The old guest's files are gone; its mapping stays valid for anyone still holding it
                // until the hypervisor closes, exactly like memory a dead domain leaves to dom0's mappings.
                domains.remove(domid);
                retired.add(d);
            }
        }
    }

    private void checkOpen() throws HypervisorException {
        if (closed) {
            throw new HypervisorException("simulated hypervisor closed");
        }
    }

    private void checkOpenUnchecked() throws GrantException {
        if (closed) {
            throw new GrantException(GrantStatus.GENERAL_ERROR, "simulated hypervisor closed");
        }
    }

    @Override
    public void close() {
        closed = true;
        for (SimEventChannel c : channels) {
            c.close();
        }
        synchronized (domains) {
            domains.values().forEach(SimDomain::close);
            domains.clear();
            retired.forEach(SimDomain::close);
            retired.clear();
        }
    }
}
