package io.tapdisk4j.ring.xenbus;

import io.tapdisk4j.ring.xenstore.XsClient;
import io.tapdisk4j.ring.xenstore.XsException;
import io.tapdisk4j.ring.xenstore.XsNoEntryException;
import io.tapdisk4j.ring.xenstore.XsWatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The backend half of the xenbus handshake for every vbd3 device (tapdisk3's tapback, in-process): watches
 * {@value VbdId#BACKEND_ROOT} and runs one {@link VbdDevice} state machine per device found there. Many
 * devices and many guests share one xenstore connection, one hypervisor and the shared event loops.
 */
public final class Tapback implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Tapback.class);
    private static final String ROOT = VbdId.BACKEND_ROOT;
    /** Backend keys only the backend writes: their watch events are our own echo. */
    private static final Set<String> OWN_KEYS = Set.of("state", "error", "max-ring-page-order",
            "multi-queue-max-queues", "feature-max-indirect-segments", "feature-persistent", "feature-flush-cache",
            "feature-barrier", "feature-discard", "discard-granularity", "discard-alignment", "discard-secure",
            "sectors", "sector-size", "physical-sector-size", "info");

    private final XsClient xs;
    private final TapbackOptions options;
    private final ConcurrentHashMap<VbdId, VbdDevice> devices = new ConcurrentHashMap<>();
    private final SerialWorker scanner;
    private final List<Consumer<VbdInfo>> listeners = new CopyOnWriteArrayList<>();
    private volatile XsWatch rootWatch;
    private volatile boolean closed;

    private Tapback(XsClient xs, TapbackOptions options) {
        this.xs = xs;
        this.options = options;
        this.scanner = new SerialWorker("tapback-scan", this::scan);
    }

    /** Starts watching; devices already in xenstore are picked up by the watch's first firing. */
    public static Tapback start(XsClient xs, TapbackOptions options) throws XsException {
        Tapback t = new Tapback(xs, options);
        t.rootWatch = xs.watch(ROOT, "tapback:vbd3", t::onEvent);
        log.info("tapback watching {} (data path {})", ROOT, options.dataPath().cliName());
        return t;
    }

    public XsClient xenstore() {
        return xs;
    }

    public TapbackOptions options() {
        return options;
    }

    private void onEvent(String path, String token) {
        if (closed) {
            return;
        }
        if (!path.startsWith(ROOT + "/")) {
            scanner.kick();
            return;
        }
        String[] p = path.substring(ROOT.length() + 1).split("/", 3);
        if (p.length < 2) {
            scanner.kick(); // a whole domain's directory appeared or went
            return;
        }
        VbdId id;
        try {
            id = new VbdId(Integer.parseInt(p[0]), Integer.parseInt(p[1]));
        } catch (NumberFormatException e) {
            return; // not a device directory
        }
        if (p.length == 3 && OWN_KEYS.contains(p[2])) {
            VbdDevice d = devices.get(id);
            if (d != null) {
                return;
            }
        }
        device(id).kick();
    }

    private VbdDevice device(VbdId id) {
        return devices.computeIfAbsent(id, i -> new VbdDevice(i, this, xs, options));
    }

    /** Finds every device directory (after start and reconnects), and lets vanished devices notice. */
    private void scan() {
        if (closed) {
            return;
        }
        Set<VbdId> found = new HashSet<>();
        try {
            for (String d : list(ROOT)) {
                for (String n : list(ROOT + "/" + d)) {
                    try {
                        found.add(new VbdId(Integer.parseInt(d), Integer.parseInt(n)));
                    } catch (NumberFormatException ignored) {
                        // not a device directory
                    }
                }
            }
        } catch (XsException e) {
            log.warn("scanning {}: {}", ROOT, e.getMessage());
            return;
        }
        found.forEach(id -> device(id).kick());
        devices.forEach((id, d) -> {
            if (!found.contains(id)) {
                d.kick();
            }
        });
    }

    private List<String> list(String path) throws XsException {
        try {
            return xs.directory(path);
        } catch (XsNoEntryException e) {
            return List.of();
        }
    }

    /**
     * Calls {@code listener} with a fresh snapshot whenever a device changes state or phase (also when it is
     * removed: phase "removed"). Runs on the device's worker thread; keep it short.
     */
    public void addListener(Consumer<VbdInfo> listener) {
        listeners.add(listener);
    }

    void changed(VbdDevice d) {
        if (listeners.isEmpty()) {
            return;
        }
        VbdInfo info = d.snapshot();
        for (Consumer<VbdInfo> l : listeners) {
            try {
                l.accept(info);
            } catch (RuntimeException e) {
                log.warn("device listener failed", e);
            }
        }
    }

    void forget(VbdDevice d) {
        devices.remove(d.id, d);
        // Recreated while we were releasing the old one? Start over with a fresh state machine.
        if (!closed) {
            try {
                if (xs.exists(d.id.backendPath())) {
                    device(d.id).kick();
                }
            } catch (XsException e) {
                log.warn("{}: {}", d.id, e.getMessage());
            }
        }
    }

    /** Every device, sorted by domain and device number. */
    public List<VbdInfo> devices() {
        List<VbdInfo> out = new ArrayList<>();
        devices.values().forEach(d -> out.add(d.snapshot()));
        out.sort((a, b) -> a.id().compareTo(b.id()));
        return out;
    }

    public Optional<VbdInfo> device(int domid, int devid) {
        VbdDevice d = devices.get(new VbdId(domid, devid));
        return d == null ? Optional.empty() : Optional.of(d.snapshot());
    }

    /**
     * A handle on the storage of an attached device for a second user, such as an NBD export: the export
     * sees the guest's writes; closing the handle leaves the device to its VBD.
     */
    public Optional<io.tapdisk4j.block.BlockDevice> sharedDevice(VbdId id, boolean readOnly) {
        VbdDevice d = devices.get(id);
        if (d == null || d.openDevice() == null) {
            return Optional.empty();
        }
        // Follows pause and resume: the image open after a resume may be another one (snapshot, relink).
        return Optional.of(io.tapdisk4j.block.BlockDeviceView.shared(
                new FollowingDevice(d::openDevice, id.toString()), readOnly));
    }

    /** Drains a connected device and stops serving its rings; requests wait on the ring until resume. */
    public CompletableFuture<String> pause(VbdId id) {
        return command(id, "pause");
    }

    public CompletableFuture<String> resume(VbdId id) {
        return resume(id, null);
    }

    /**
     * Opens the image chain again and serves the rings; {@code uri} null reopens the same URI (which a
     * snapshot taken meanwhile now names), else relinks the device to {@code uri} ({@code tap-ctl unpause -a}).
     * If the open fails the device stays paused.
     */
    public CompletableFuture<String> resume(VbdId id, String uri) {
        return command(id, "resume", uri);
    }

    /** Drains, disconnects and releases the device, and leaves it alone until its directory is removed. */
    public CompletableFuture<String> detach(VbdId id) {
        return command(id, "detach");
    }

    private CompletableFuture<String> command(VbdId id, String c) {
        return command(id, c, null);
    }

    private CompletableFuture<String> command(VbdId id, String c, String argument) {
        VbdDevice d = devices.get(id);
        if (d == null) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("no device " + id));
        }
        return d.command(c, argument);
    }

    /**
     * Graceful shutdown: every device drains its requests in flight (bounded by the close timeout), unmaps,
     * unbinds, closes its storage and is marked Closed; waits at most {@code timeout} in all.
     */
    public void close(Duration timeout) {
        if (closed) {
            return;
        }
        closed = true;
        XsWatch w = rootWatch;
        if (w != null) {
            w.close();
        }
        List<CompletableFuture<String>> all = new ArrayList<>();
        devices.values().forEach(d -> all.add(d.command("shutdown")));
        try {
            CompletableFuture.allOf(all.toArray(CompletableFuture[]::new))
                    .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            log.warn("tapback shutdown: not every device finished within {}: {}", timeout, e.toString());
        }
        log.info("tapback stopped ({} device(s))", all.size());
    }

    @Override
    public void close() {
        close(options.closeTimeout().plusSeconds(10));
    }
}
