package io.tapdisk4j.ring.xenbus;

import io.tapdisk4j.ring.backend.QueueSpec;
import io.tapdisk4j.ring.frontend.BlkfrontEmulator;
import io.tapdisk4j.ring.frontend.FrontendOptions;
import io.tapdisk4j.ring.hv.HypervisorException;
import io.tapdisk4j.ring.hv.sim.SimGuest;
import io.tapdisk4j.ring.xenstore.XsClient;
import io.tapdisk4j.ring.xenstore.XsException;
import io.tapdisk4j.ring.xenstore.XsTransaction;
import io.tapdisk4j.ring.xenstore.XsWatch;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The guest side of the xenbus handshake for the Java blkfront emulator (what Linux's xen-blkfront does in
 * talk_to_blkback and blkback_changed): wait for the backend's InitWait, read its limits, set up rings
 * within them, publish ring refs, event channels and protocol, Initialised, wait for Connected, read the
 * disk's geometry, Connected. Also the orderly close (Closing, wait for Closed) and reconnect.
 */
public final class BlkfrontXenbus implements AutoCloseable {

    private final XsClient xs;
    private final SimGuest guest;
    private final VbdId id;
    private final String fe;
    private final String be;
    private final FrontendOptions wanted;
    private final Duration timeout;
    private final LinkedBlockingQueue<String> backendChanges = new LinkedBlockingQueue<>();
    private final XsWatch watch;
    private BlkfrontEmulator emulator;
    private long sectors;
    private int sectorSize;
    private boolean readOnly;

    private BlkfrontXenbus(XsClient xs, SimGuest guest, VbdId id, FrontendOptions wanted, Duration timeout)
            throws XsException {
        this.xs = xs;
        this.guest = guest;
        this.id = id;
        this.fe = id.frontendPath();
        this.be = xs.read(fe + "/backend");
        this.wanted = wanted;
        this.timeout = timeout;
        this.watch = xs.watch(be + "/state", "blkfront:" + id + ":" + System.identityHashCode(this),
                (p, t) -> backendChanges.add(p));
    }

    /** Connects device {@code id} of {@code guest} (the toolstack created it) with at most {@code wanted}. */
    public static BlkfrontXenbus connect(XsClient xs, SimGuest guest, VbdId id, FrontendOptions wanted,
                                         Duration timeout) throws IOException {
        if (guest.domid() != id.domid()) {
            throw new IllegalArgumentException("guest " + guest.domid() + " cannot attach " + id);
        }
        BlkfrontXenbus f = new BlkfrontXenbus(xs, guest, id, wanted, timeout);
        try {
            f.handshake();
        } catch (IOException | RuntimeException e) {
            f.close();
            throw e;
        }
        return f;
    }

    public BlkfrontEmulator emulator() {
        return emulator;
    }

    public VbdId id() {
        return id;
    }

    public long sectors() {
        return sectors;
    }

    public int sectorSize() {
        return sectorSize;
    }

    public boolean readOnly() {
        return readOnly;
    }

    public XenbusState backendState() throws XsException {
        return XenbusState.parse(xs.readOptional(be + "/state").orElse(null));
    }

    private void handshake() throws IOException {
        awaitBackend(s -> s == XenbusState.INIT_WAIT, "InitWait");
        int maxOrder = readInt(be + "/max-ring-page-order", 0);
        int maxQueues = readInt(be + "/multi-queue-max-queues", 1);
        int maxIndirect = readInt(be + "/feature-max-indirect-segments", 0);
        boolean persistent = wanted.persistent() && readInt(be + "/feature-persistent", 0) == 1;
        FrontendOptions options = new FrontendOptions(Math.min(wanted.queues(), Math.max(1, maxQueues)),
                Math.min(wanted.ringOrder(), maxOrder), wanted.abi(), persistent,
                Math.min(wanted.maxIndirectSegments(), maxIndirect));
        try {
            emulator = BlkfrontEmulator.create(guest, options);
        } catch (HypervisorException e) {
            throw new IOException("setting up rings: " + e.getMessage(), e);
        }
        List<QueueSpec> queues = emulator.queueSpecs();
        xs.transaction(tx -> {
            publish(tx, options, queues);
            tx.write(fe + "/state", XenbusState.INITIALISED.value());
            return null;
        });
        awaitBackend(s -> s == XenbusState.CONNECTED, "Connected");
        sectors = Long.parseLong(xs.read(be + "/sectors").trim());
        sectorSize = Integer.parseInt(xs.read(be + "/sector-size").trim());
        readOnly = (Integer.parseInt(xs.read(be + "/info").trim()) & 4) != 0;
        xs.write(fe + "/state", XenbusState.CONNECTED.value());
    }

    private void publish(XsTransaction tx, FrontendOptions options, List<QueueSpec> queues) throws XsException {
        if (options.ringOrder() > 0) {
            tx.write(fe + "/ring-page-order", Integer.toString(options.ringOrder()));
        }
        if (queues.size() > 1) {
            tx.write(fe + "/multi-queue-num-queues", Integer.toString(queues.size()));
        }
        for (int q = 0; q < queues.size(); q++) {
            String dir = queues.size() == 1 ? fe : fe + "/queue-" + q;
            int[] refs = queues.get(q).ringRefs();
            if (options.ringOrder() == 0) {
                tx.write(dir + "/ring-ref", Integer.toUnsignedString(refs[0]));
            } else {
                for (int i = 0; i < refs.length; i++) {
                    tx.write(dir + "/ring-ref" + i, Integer.toUnsignedString(refs[i]));
                }
            }
            tx.write(dir + "/event-channel", Integer.toString(queues.get(q).eventChannelPort()));
        }
        tx.write(fe + "/protocol", options.abi().protocol());
        tx.write(fe + "/feature-persistent", options.persistent() ? "1" : "0");
    }

    /** Closing, wait for the backend to drain and reach Closed, release the rings, Closed. */
    public void disconnect() throws IOException {
        xs.write(fe + "/state", XenbusState.CLOSING.value());
        awaitBackend(s -> s == XenbusState.CLOSED, "Closed");
        if (emulator != null) {
            emulator.close();
            emulator = null;
        }
        xs.write(fe + "/state", XenbusState.CLOSED.value());
    }

    /** After {@link #disconnect()}: Initialising, and the whole handshake again. */
    public void reconnect() throws IOException {
        removeRingKeys();
        xs.write(fe + "/state", XenbusState.INITIALISING.value());
        handshake();
    }

    private void removeRingKeys() throws XsException {
        for (String k : xs.directory(fe)) {
            if (k.startsWith("ring-ref") || k.startsWith("queue-") || k.equals("event-channel")
                    || k.equals("ring-page-order") || k.equals("multi-queue-num-queues")) {
                xs.rm(fe + "/" + k);
            }
        }
    }

    /** Waits until the backend's state satisfies {@code want}; fails early when it reports a fatal error. */
    public XenbusState awaitBackend(Predicate<XenbusState> want, String what) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            backendChanges.clear();
            XenbusState s = backendState();
            if (want.test(s)) {
                return s;
            }
            if (s == XenbusState.CLOSING) {
                String err = xs.readOptional(be + "/error").orElse(null);
                if (err != null) {
                    throw new IOException(id + ": backend failed: " + err);
                }
            }
            long left = deadline - System.nanoTime();
            try {
                if (left <= 0 || backendChanges.poll(left, TimeUnit.NANOSECONDS) == null) {
                    throw new IOException(id + ": backend did not reach " + what + " within " + timeout
                            + " (state " + s + ")");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted waiting for " + what);
            }
        }
    }

    private int readInt(String key, int dflt) throws XsException {
        try {
            return Integer.parseInt(xs.readOptional(key).orElse(Integer.toString(dflt)).trim());
        } catch (NumberFormatException e) {
            return dflt;
        }
    }

    /** Releases the rings (without the closing handshake if it did not happen) and stops watching. */
    @Override
    public void close() {
        watch.close();
        if (emulator != null) {
            emulator.close();
            emulator = null;
        }
    }
}
