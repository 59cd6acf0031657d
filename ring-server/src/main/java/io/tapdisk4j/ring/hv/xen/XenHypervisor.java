package io.tapdisk4j.ring.hv.xen;

import io.tapdisk4j.ring.hv.EventChannel;
import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.Hypervisor;
import io.tapdisk4j.ring.hv.HypervisorException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The real hypervisor, as a Linux dom0 exposes it: grant copy and grant map through /dev/xen/gntdev,
 * inter-domain event channels through /dev/xen/evtchn, both driven with the FFM API (no JNI).
 * Needs the xen-gntdev and xen-evtchn kernel drivers and the privileges of a dom0 backend.
 */
public final class XenHypervisor implements Hypervisor {

    /** Where Linux puts the Xen devices. */
    public static final Path DEFAULT_DEVICES = Path.of("/dev/xen");

    private final Path devices;
    private final DeviceFd gntdev;
    private final EvtchnDevice evtchn;
    private final Set<GntdevMapping> mappings = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();

    private XenHypervisor(Path devices, DeviceFd gntdev, EvtchnDevice evtchn) {
        this.devices = devices;
        this.gntdev = gntdev;
        this.evtchn = evtchn;
    }

    /** Whether this machine exposes the Xen devices (a dom0 with xen-gntdev and xen-evtchn loaded). */
    public static boolean present() {
        return Files.exists(DEFAULT_DEVICES.resolve("gntdev")) && Files.exists(DEFAULT_DEVICES.resolve("evtchn"));
    }

    /** Opens /dev/xen/gntdev and /dev/xen/evtchn. */
    public static XenHypervisor open() throws HypervisorException {
        return open(DEFAULT_DEVICES);
    }

    /** Opens {@code devices}/gntdev and {@code devices}/evtchn. */
    public static XenHypervisor open(Path devices) throws HypervisorException {
        if (!Files.isDirectory(devices)) {
            throw new HypervisorException(devices + " does not exist: this is not a Xen dom0 (or the xen-gntdev and"
                    + " xen-evtchn drivers are not loaded); use the simulated hypervisor (--sim DIR) instead");
        }
        int gntdev = openDevice(devices.resolve("gntdev"), "xen-gntdev");
        int evtchnFd;
        try {
            evtchnFd = openDevice(devices.resolve("evtchn"), "xen-evtchn");
        } catch (HypervisorException e) {
            Libc.close(gntdev);
            throw e;
        }
        EvtchnDevice evtchn;
        try {
            evtchn = new EvtchnDevice(new DeviceFd(devices.resolve("evtchn").toString(), evtchnFd));
        } catch (HypervisorException e) {
            Libc.close(evtchnFd);
            Libc.close(gntdev);
            throw e;
        }
        return new XenHypervisor(devices, new DeviceFd(devices.resolve("gntdev").toString(), gntdev), evtchn);
    }

    private static int openDevice(Path path, String driver) throws HypervisorException {
        int fd = Libc.open(path.toString(), Libc.O_RDWR | Libc.O_CLOEXEC | Libc.O_NONBLOCK);
        if (fd < 0) {
            int errno = Libc.errno();
            String hint = errno == Libc.ENOENT ? "; is the " + driver + " driver loaded?" : "";
            throw new HypervisorException("cannot open " + path + ": " + Libc.describe(errno) + hint);
        }
        return fd;
    }

    @Override
    public String name() {
        return "xen";
    }

    /** The directory the devices were opened from. */
    public Path devices() {
        return devices;
    }

    @Override
    public GrantCopyBatch newCopyBatch(int capacity) {
        checkOpen();
        return new GntdevCopyBatch(gntdev, capacity);
    }

    @Override
    public GrantMapping map(int domid, int[] refs, boolean readOnly) throws GrantException {
        checkOpen();
        GntdevMapping[] self = new GntdevMapping[1];
        GntdevMapping m = GntdevMapping.map(gntdev, domid, refs, readOnly, () -> mappings.remove(self[0]));
        self[0] = m;
        mappings.add(m);
        return m;
    }

    @Override
    public EventChannel bindInterdomain(int domid, int remotePort, Runnable onEvent) throws HypervisorException {
        checkOpen();
        return evtchn.bind(domid, remotePort, onEvent);
    }

    /** Whether the event-channel reader thread still runs (it stops on close or on a device failure). */
    public boolean eventReaderAlive() {
        return evtchn.readerAlive();
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new IllegalStateException("xen hypervisor is closed");
        }
    }

    /**
     * Unbinds every event channel, unmaps every grant mapping still open (their segments throw from then on)
     * and closes both devices. Batches fail with a HypervisorException afterwards.
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            evtchn.close();
            for (GntdevMapping m : List.copyOf(mappings)) {
                m.close();
            }
            gntdev.close();
        }
    }
}
