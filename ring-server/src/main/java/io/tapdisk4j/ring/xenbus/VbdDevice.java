package io.tapdisk4j.ring.xenbus;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDeviceException;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.ring.backend.BackendFeatures;
import io.tapdisk4j.ring.backend.BackendListener;
import io.tapdisk4j.ring.backend.BackendSpec;
import io.tapdisk4j.ring.backend.BackendStats;
import io.tapdisk4j.ring.backend.BlkifBackend;
import io.tapdisk4j.ring.xenstore.XsClient;
import io.tapdisk4j.ring.xenstore.XsException;
import io.tapdisk4j.ring.xenstore.XsNoEntryException;
import io.tapdisk4j.ring.xenstore.XsWatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * One virtual block device's backend state machine (Linux blkback's xenbus.c, for the vbd3 type). Level
 * triggered: every watch event on the backend directory or the frontend's {@code state} kicks
 * {@link #reconcile()}, which reads what xenstore says now and takes the next step:
 * <ol>
 *   <li>open {@code params}, advertise features, InitWait (2);</li>
 *   <li>frontend Initialised/Connected: read its rings, start the {@link BlkifBackend}, write the disk's
 *       geometry, Connected (4);</li>
 *   <li>frontend Closing/Closed or gone: drain (bounded), unmap, unbind, Closed (6); frontend back to
 *       Initialising: InitWait again;</li>
 *   <li>{@code online = 0}, backend directory removed, {@code ctl detach}: release the device.</li>
 * </ol>
 * A fatal error (bad params, bad frontend keys, unmappable ring, ring overrun) is written as
 * "errno message" to the backend's {@code error} node (and Linux's /local/domain/0/error/... node) and
 * the backend moves to Closing (5). Nothing here throws into the daemon: this device fails, others go on.
 */
final class VbdDevice {

    private static final Logger log = LoggerFactory.getLogger(VbdDevice.class);
    static final BackendStats ZERO = new BackendStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    private enum Command { PAUSE, RESUME, DETACH, SHUTDOWN }

    /** {@code argument}: for RESUME, the URI to reopen (null: the same one). */
    private record Pending(Command command, String argument, CompletableFuture<String> result) {
    }

    final VbdId id;
    private final Tapback tapback;
    private final XsClient xs;
    private final TapbackOptions options;
    private final String be;
    private final String linuxErrorNode;
    private final BackendListener metrics;
    private final SerialWorker worker;
    private final ConcurrentLinkedQueue<Pending> commands = new ConcurrentLinkedQueue<>();

    // Written by the worker only; volatile so that snapshots (ctl, metrics) read them from any thread.
    private volatile String uri;
    private volatile XenbusState state = XenbusState.UNKNOWN;
    private volatile String phase = "new";
    private volatile String error;
    private volatile BlkifBackend backend;
    private volatile FrontendRings rings;
    private volatile BackendStats previous = ZERO;
    private volatile BlockDevice device;
    private boolean readOnly;
    /** The daemon's data path, or the device's own from its backend key {@code data-path}. */
    private io.tapdisk4j.ring.backend.DataPath dataPath;
    private String fe;
    private XsWatch feWatch;
    private String failedUri;
    private BackendSpec pausedSpec;
    private boolean detached;
    private boolean gone;

    /** The storage this device serves while it is open (for an NBD export of an attached VDI), else null. */
    BlockDevice openDevice() {
        return device;
    }

    VbdDevice(VbdId id, Tapback tapback, XsClient xs, TapbackOptions options) {
        this.id = id;
        this.tapback = tapback;
        this.xs = xs;
        this.options = options;
        this.be = id.backendPath();
        this.linuxErrorNode = "/local/domain/0/error/backend/vbd3/" + id.domid() + "/" + id.devid();
        this.metrics = options.listeners().apply(id);
        this.worker = new SerialWorker("tapback-" + id, this::reconcile);
    }

    void kick() {
        worker.kick();
    }

    CompletableFuture<String> command(String name) {
        return command(name, null);
    }

    CompletableFuture<String> command(String name, String argument) {
        Command c = Command.valueOf(name.toUpperCase(java.util.Locale.ROOT));
        CompletableFuture<String> f = new CompletableFuture<>();
        commands.add(new Pending(c, argument, f));
        kick();
        return f;
    }

    VbdInfo snapshot() {
        BlkifBackend b = backend;
        FrontendRings r = rings;
        return new VbdInfo(id, uri, state, phase, b != null ? b.dataPath().cliName() : null,
                r != null && b != null ? r.queues().size() : 0, r != null && b != null ? r.ringOrder() : 0, error,
                b != null ? b.stats() : null, previous);
    }

    // ---- the state machine (worker thread only) ----------------------------------------------------------

    private void reconcile() {
        Pending p;
        while ((p = commands.poll()) != null) {
            try {
                p.result.complete(execute(p.command, p.argument));
            } catch (IllegalStateException e) {
                p.result.completeExceptionally(e);
            } catch (XsException | RuntimeException e) {
                p.result.completeExceptionally(new IllegalStateException(id + ": " + e.getMessage(), e));
            }
        }
        if (gone) {
            return;
        }
        try {
            step();
        } catch (XsException e) {
            // xenstore trouble (a lost connection re-fires every watch after reconnecting): try again then.
            log.warn("{}: xenstore: {}", id, e.getMessage());
        }
    }

    private void step() throws XsException {
        if (!xs.exists(be)) {
            release("backend directory removed");
            rmQuietly(linuxErrorNode);
            gone = true;
            tapback.forget(this);
            phase("removed");
            return;
        }
        if (detached) {
            return;
        }
        String online = xs.readOptional(be + "/online").orElse("1").trim();
        if (!online.equals("1")) {
            if (device != null || backend != null || !phase.equals("released")) {
                release("online = " + online);
                writeState(XenbusState.CLOSED, "released");
            }
            return;
        }
        Optional<String> params = xs.readOptional(be + "/params");
        if (params.isEmpty() || !xs.exists(be + "/frontend")) {
            phase("waiting for toolstack");
            return; // the toolstack has not written everything yet; its next write kicks us again
        }
        if (device == null && pausedSpec == null) {
            if (params.get().equals(failedUri)) {
                return; // reported already; a new params value tries again
            }
            try {
                open(params.get());
            } catch (XenbusFatal f) {
                failedUri = params.get();
                fatal(f);
                return;
            }
        }
        BlkifBackend b = backend;
        if (b != null && b.shutdown().isDone()) {
            fatal(new XenbusFatal(XenbusFatal.EIO, b.shutdown().getNow("shut down")));
            return;
        }
        XenbusState frontend = XenbusState.parse(xs.readOptional(fe + "/state").orElse(null));
        switch (frontend) {
            case INITIALISING -> {
                if (state != XenbusState.INIT_WAIT) {
                    log.info("{}: frontend reinitialising; preparing for reconnect", id);
                    disconnect();
                    advertise();
                }
            }
            case INITIALISED, CONNECTED -> {
                if (state == XenbusState.INIT_WAIT && backend == null) {
                    connect();
                }
            }
            case CLOSING, CLOSED -> {
                if (state != XenbusState.CLOSED) {
                    disconnect();
                    writeState(XenbusState.CLOSED, "closed");
                }
            }
            case UNKNOWN -> {
                if (backend != null || pausedSpec != null) {
                    log.warn("{}: frontend {} vanished", id, fe);
                    disconnect();
                    writeState(XenbusState.CLOSED, "closed");
                }
            }
            default -> {
            }
        }
    }

    private void open(String params) throws XsException, XenbusFatal {
        fe = xs.read(be + "/frontend").trim();
        if (!fe.startsWith("/")) {
            throw new XenbusFatal(XenbusFatal.EINVAL, "frontend path '" + fe + "' is not absolute");
        }
        String fid = xs.readOptional(be + "/frontend-id").orElse(Integer.toString(id.domid())).trim();
        if (!fid.equals(Integer.toString(id.domid()))) {
            throw new XenbusFatal(XenbusFatal.EINVAL, "frontend-id " + fid + " does not match domain " + id.domid());
        }
        if (id.domid() <= 0) {
            throw new XenbusFatal(XenbusFatal.EINVAL, "a frontend must be a guest domain (>= 1), not " + id.domid());
        }
        readOnly = xs.readOptional(be + "/mode").orElse("w").trim().startsWith("r");
        dataPath = dataPath(xs.readOptional(be + "/data-path").orElse(null));
        try {
            device = options.devices().open(params.trim(), OpenOptions.DEFAULT.withReadOnly(readOnly));
        } catch (IOException | RuntimeException e) {
            throw new XenbusFatal(errno(e), DeviceUri.redact("opening " + params.trim() + ": " + e.getMessage()));
        }
        uri = params.trim();
        failedUri = null;
        log.info("{}: opened {} ({} bytes, {})", id, DeviceUri.redact(uri), device.size(), readOnly ? "read-only" : "read-write");
        if (feWatch == null) {
            feWatch = xs.watch(fe + "/state", "fe:" + id, (path, token) -> kick());
        }
        advertise();
    }

    private io.tapdisk4j.ring.backend.DataPath dataPath(String key) throws XenbusFatal {
        if (key == null || key.isBlank()) {
            return options.dataPath();
        }
        io.tapdisk4j.ring.backend.DataPath p;
        try {
            p = io.tapdisk4j.ring.backend.DataPath.parse(key.trim());
        } catch (IllegalArgumentException e) {
            throw new XenbusFatal(XenbusFatal.EINVAL, "data-path: " + e.getMessage());
        }
        if (p == io.tapdisk4j.ring.backend.DataPath.UNSAFE_MAP && !options.allowUnsafe()) {
            throw new XenbusFatal(XenbusFatal.EINVAL, "data-path unsafe-map needs the daemon's --allow-unsafe");
        }
        return p;
    }

    private static int errno(Throwable e) {
        if (e instanceof BlockDeviceException b) {
            return b.error().errno();
        }
        if (e instanceof NoSuchFileException) {
            return XenbusFatal.ENOENT;
        }
        if (e instanceof IllegalArgumentException) {
            return XenbusFatal.EINVAL;
        }
        return XenbusFatal.EIO;
    }

    /** Feature keys and InitWait, in one transaction (a frontend never sees InitWait without the keys). */
    private void advertise() throws XsException {
        Map<String, String> keys = BackendFeatures.initWaitKeys(device, dataPath,
                options.maxIndirectSegments());
        if (error != null) {
            xs.rm(be + "/error");
            rmQuietly(linuxErrorNode);
            error = null;
        }
        writeStateWith(keys, XenbusState.INIT_WAIT, "waiting for the frontend");
    }

    private void connect() throws XsException {
        FrontendRings r;
        try {
            r = FrontendRings.read(xs, fe);
        } catch (XenbusFatal f) {
            fatal(f);
            return;
        }
        BackendListener listener = new BackendListener() {
            @Override
            public void onShutdown(String reason) {
                metrics.onShutdown(reason);
                kick(); // reported by the next reconcile: error node, Closing
            }
        };
        BackendSpec spec;
        try {
            spec = BackendSpec.builder(options.hypervisor(), id.domid(), device).name(id.toString())
                    .queues(r.queues()).abi(r.abi()).dataPath(dataPath)
                    .frontendPersistent(r.persistent()).allowUnsafe(options.allowUnsafe()).readOnly(readOnly)
                    .maxIndirectSegments(options.maxIndirectSegments()).closeTimeout(options.closeTimeout())
                    .listener(listener).build();
            backend = BlkifBackend.start(spec);
        } catch (Exception e) {
            QueueSpecText q = new QueueSpecText(r);
            fatal(new XenbusFatal(XenbusFatal.EINVAL, "mapping ring-ref " + q.refs + " port " + q.ports + ": "
                    + e.getMessage()));
            return;
        }
        rings = r;
        try {
            writeStateWith(BackendFeatures.connectKeys(device, readOnly), XenbusState.CONNECTED, "connected");
        } catch (XsException e) {
            disconnect();
            throw e;
        }
        log.info("{}: connected: {} queue(s), ring order {}, {}, data path {}{}", id, r.queues().size(),
                r.ringOrder(), r.abi().protocol(), backend.dataPath().cliName(), r.persistent() ? ", persistent" : "");
    }

    private record QueueSpecText(String refs, String ports) {
        QueueSpecText(FrontendRings r) {
            this(r.queues().stream().map(q -> java.util.Arrays.toString(q.ringRefs())).toList().toString(),
                    r.queues().stream().map(q -> Integer.toString(q.eventChannelPort())).toList().toString());
        }
    }

    /** Completes or fails every request in flight (bounded by closeTimeout), unmaps, unbinds. */
    private void disconnect() {
        pausedSpec = null;
        BlkifBackend b = backend;
        if (b == null) {
            return;
        }
        backend = null;
        b.close();
        previous = sum(previous, b.stats());
        rings = null;
        log.info("{}: disconnected (rings unmapped, event channels unbound)", id);
    }

    private void fatal(XenbusFatal f) throws XsException {
        String value = f.nodeValue();
        log.error("{}: {}", id, value);
        disconnect();
        error = value;
        xs.write(linuxErrorNode + "/error", value);
        writeStateWith(Map.of("error", value), XenbusState.CLOSING, "failed");
    }

    /** Gives the storage back: disconnect, close the device, stop watching the frontend. */
    private void release(String why) {
        disconnect();
        if (feWatch != null) {
            feWatch.close();
            feWatch = null;
        }
        closeDevice(why);
        failedUri = null;
    }

    private void closeDevice(String why) {
        if (device != null) {
            try {
                device.close();
            } catch (RuntimeException e) {
                log.warn("{}: closing {} failed: {}", id, DeviceUri.redact(uri), DeviceUri.redact(e.toString()));
            }
            device = null;
            log.info("{}: released {} ({})", id, DeviceUri.redact(uri), why);
        }
    }

    private String execute(Command c, String argument) throws XsException {
        switch (c) {
            case PAUSE -> {
                BlkifBackend b = backend;
                if (b == null) {
                    throw new IllegalStateException(id + " is not connected (" + phase + ")");
                }
                BackendSpec spec = b.spec();
                disconnect();
                pausedSpec = spec;
                // Close the whole image chain, so that whatever changes it meanwhile (a snapshot renames the
                // leaf, a coalesce rewrites the parent) is what resume opens, not a stale open file.
                closeDevice("paused");
                phase("paused");
                log.info("{}: paused, {} closed (requests stay on the ring until resume)", id, DeviceUri.redact(uri));
                return id + " paused";
            }
            case RESUME -> {
                if (pausedSpec == null) {
                    throw new IllegalStateException(id + " is not paused (" + phase + ")");
                }
                String target = argument != null ? argument.trim() : uri;
                BlockDevice reopened;
                try {
                    reopened = options.devices().open(target, OpenOptions.DEFAULT.withReadOnly(readOnly));
                } catch (IOException | RuntimeException e) {
                    // Stay paused: the guest's requests wait on the ring, and resume may be retried (with --uri).
                    throw new IllegalStateException(DeviceUri.redact(id + ": resume failed, still paused: opening " + target
                            + ": " + e.getMessage()));
                }
                BackendSpec old = pausedSpec;
                BackendSpec spec = new BackendSpec(old.hypervisor(), old.frontendDomid(), old.name(), reopened,
                        old.queues(), old.abi(), old.dataPath(), old.frontendPersistent(), old.allowUnsafe(),
                        old.readOnly(), old.maxIndirectSegments(), old.closeTimeout(), old.listener(),
                        old.executor());
                pausedSpec = null;
                device = reopened;
                uri = target;
                try {
                    backend = BlkifBackend.start(spec);
                } catch (Exception e) {
                    fatal(new XenbusFatal(XenbusFatal.EIO, "resuming: " + e.getMessage()));
                    throw new IllegalStateException(id + ": resume failed: " + e.getMessage());
                }
                phase("connected");
                log.info("{}: resumed on {}", id, DeviceUri.redact(uri));
                return id + " resumed" + (argument != null ? " on " + DeviceUri.redact(uri) : "");
            }
            case DETACH -> {
                release("detached by ctl");
                detached = true;
                if (xs.exists(be)) {
                    writeState(XenbusState.CLOSED, "detached");
                } else {
                    phase("detached");
                }
                return id + " detached";
            }
            case SHUTDOWN -> {
                release("daemon shutting down");
                gone = true;
                if (xs.connected() && xs.exists(be)) {
                    writeState(XenbusState.CLOSED, "stopped");
                } else {
                    phase("stopped");
                }
                return id + " stopped";
            }
        }
        throw new IllegalStateException("unknown command " + c);
    }

    /**
     * Records the new state and phase locally first, then in xenstore: whoever sees the node change (a test,
     * the frontend) also sees the matching snapshot.
     */
    private void writeState(XenbusState s, String newPhase) throws XsException {
        writeStateWith(Map.of(), s, newPhase);
    }

    /**
     * Writes {@code keys} and the state in one transaction, recording the state locally first. Writes nothing
     * when the backend directory is gone: a write would create it again, and a toolstack that removed it
     * while this step ran would find it back and the device would never report its removal (Linux's
     * xenbus_switch_state checks the same way). The next step then sees the removal.
     */
    private void writeStateWith(Map<String, String> keys, XenbusState s, String newPhase) throws XsException {
        XenbusState oldState = state;
        String oldPhase = phase;
        changed(s, newPhase);
        boolean written;
        try {
            written = xs.transaction(tx -> {
                if (!tx.exists(be)) {
                    return false;
                }
                for (Map.Entry<String, String> k : keys.entrySet()) {
                    tx.write(be + "/" + k.getKey(), k.getValue());
                }
                tx.write(be + "/state", s.value());
                return true;
            });
        } catch (XsException e) {
            state = oldState;
            phase = oldPhase;
            throw e;
        }
        if (!written) {
            kick();
        }
    }

    private void changed(XenbusState s, String newPhase) {
        XenbusState old = state;
        state = s;
        phase = newPhase;
        if (old != s) {
            log.info("{}: state {} -> {}{}", id, old, s, uri != null ? " (" + DeviceUri.redact(uri) + ")" : "");
        }
        tapback.changed(this);
    }

    private void phase(String p) {
        if (!p.equals(phase)) {
            phase = p;
            tapback.changed(this);
        }
    }

    private void rmQuietly(String path) {
        try {
            xs.rm(path);
        } catch (XsNoEntryException ignored) {
            // nothing to remove
        } catch (XsException e) {
            log.warn("{}: removing {}: {}", id, path, e.getMessage());
        }
    }

    static BackendStats sum(BackendStats a, BackendStats b) {
        return new BackendStats(a.reads() + b.reads(), a.writes() + b.writes(), a.flushes() + b.flushes(),
                a.discards() + b.discards(), a.bytesRead() + b.bytesRead(), a.bytesWritten() + b.bytesWritten(),
                a.errors() + b.errors(), a.badRequests() + b.badRequests(), b.inFlight(),
                a.latencyNanosSum() + b.latencyNanosSum(), Math.max(a.latencyNanosMax(), b.latencyNanosMax()),
                a.histograms().plus(b.histograms()));
    }
}
