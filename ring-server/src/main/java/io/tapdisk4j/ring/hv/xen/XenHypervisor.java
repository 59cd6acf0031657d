package io.tapdisk4j.ring.hv.xen;

import io.tapdisk4j.ring.hv.EventChannel;
import io.tapdisk4j.ring.hv.GrantCopyBatch;
import io.tapdisk4j.ring.hv.GrantException;
import io.tapdisk4j.ring.hv.GrantMapping;
import io.tapdisk4j.ring.hv.Hypervisor;
import io.tapdisk4j.ring.hv.HypervisorException;

import java.nio.file.Files;
import java.nio.file.Path;
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
    private final int gntdevFd;
    private final EvtchnDevice evtchn;
    private final AtomicBoolean closed = new AtomicBoolean();

    private XenHypervisor(Path devices, int gntdevFd, EvtchnDevice evtchn) {
        this.devices = devices;
        this.gntdevFd = gntdevFd;
        this.evtchn = evtchn;
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
            evtchn = new EvtchnDevice(devices.resolve("evtchn").toString(), evtchnFd);
        } catch (HypervisorException e) {
            Libc.close(evtchnFd);
            Libc.close(gntdev);
            throw e;
        }
        return new XenHypervisor(devices, gntdev, evtchn);
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
        return new GntdevCopyBatch(gntdevFd, capacity);
    }

    @Override
    public GrantMapping map(int domid, int[] refs, boolean readOnly) throws GrantException {
        checkOpen();
        return GntdevMapping.map(gntdevFd, domid, refs, readOnly);
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

    /** Unbinds every event channel and closes both devices; mappings still open stay valid until closed. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            evtchn.close();
            Libc.close(gntdevFd);
        }
    }
}
