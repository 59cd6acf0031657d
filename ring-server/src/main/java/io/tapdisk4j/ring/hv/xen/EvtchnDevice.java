package io.tapdisk4j.ring.hv.xen;

import io.tapdisk4j.ring.hv.EventChannel;
import io.tapdisk4j.ring.hv.HypervisorException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * /dev/xen/evtchn: one file descriptor carries every bound port. A reader thread polls it together with an
 * eventfd (so close can wake it), reads the pending ports (u32s), writes them back to unmask them, then runs
 * each port's callback. Unmasking before the callback loses nothing: an event arriving while the callback
 * runs is delivered again, and ring consumers do a final check anyway.
 */
final class EvtchnDevice implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EvtchnDevice.class);
    private static final int MAX_PENDING = 256;

    private final String path;
    private final DeviceFd device;
    private final int fd;
    private final int wakeFd;
    /** Guarded by itself; bind holds it across the ioctl so the reader never sees a port before its channel. */
    private final Map<Integer, Channel> channels = new HashMap<>();
    private final Thread reader;
    private volatile boolean closing;

    EvtchnDevice(DeviceFd device) throws HypervisorException {
        this.path = device.path();
        this.device = device;
        this.fd = device.raw();
        this.wakeFd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (wakeFd < 0) {
            throw new HypervisorException("eventfd failed: " + Libc.describe(Libc.errno()));
        }
        this.reader = Thread.ofPlatform().daemon().name("xen-evtchn").unstarted(this::readLoop);
        reader.start();
    }

    EventChannel bind(int domid, int remotePort, Runnable onEvent) throws HypervisorException {
        if (closing) {
            throw new HypervisorException("event channel device is closed");
        }
        synchronized (channels) {
            int port;
            try (Arena call = Arena.ofConfined()) {
                MemorySegment arg = call.allocate(EvtchnAbi.BIND_INTERDOMAIN);
                arg.set(ValueLayout.JAVA_INT, EvtchnAbi.BIND_REMOTE_DOMAIN, domid);
                arg.set(ValueLayout.JAVA_INT, EvtchnAbi.BIND_REMOTE_PORT, remotePort);
                port = device.ioctl(EvtchnAbi.IOCTL_EVTCHN_BIND_INTERDOMAIN, arg);
                if (port < 0) {
                    throw new HypervisorException("IOCTL_EVTCHN_BIND_INTERDOMAIN to domain " + domid + " port "
                            + remotePort + " failed: " + DeviceFd.describe(port));
                }
            }
            Channel channel = new Channel(port, onEvent);
            channels.put(port, channel);
            return channel;
        }
    }

    private void portIoctl(long request, long offset, int port, String name) throws HypervisorException {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment arg = call.allocate(EvtchnAbi.NOTIFY);
            arg.set(ValueLayout.JAVA_INT, offset, port);
            int r = device.ioctl(request, arg);
            if (r < 0) {
                throw new HypervisorException(name + " of port " + port + " failed: " + DeviceFd.describe(r));
            }
        }
    }

    private void readLoop() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(Libc.POLLFD, 2);
            long stride = Libc.POLLFD.byteSize();
            fds.set(ValueLayout.JAVA_INT, Libc.POLLFD_FD, fd);
            fds.set(ValueLayout.JAVA_SHORT, Libc.POLLFD_EVENTS, Libc.POLLIN);
            fds.set(ValueLayout.JAVA_INT, stride + Libc.POLLFD_FD, wakeFd);
            fds.set(ValueLayout.JAVA_SHORT, stride + Libc.POLLFD_EVENTS, Libc.POLLIN);
            MemorySegment ports = arena.allocate((long) MAX_PENDING * EvtchnAbi.PORT_BYTES, 4);
            List<Channel> ready = new ArrayList<>();
            while (!closing) {
                fds.set(ValueLayout.JAVA_SHORT, Libc.POLLFD_REVENTS, (short) 0);
                fds.set(ValueLayout.JAVA_SHORT, stride + Libc.POLLFD_REVENTS, (short) 0);
                if (Libc.poll(fds, 2, -1) < 0) {
                    int errno = Libc.errno();
                    if (errno == Libc.EINTR) {
                        continue;
                    }
                    LOG.error("poll on {} failed: {}; no more event-channel notifications", path, Libc.describe(errno));
                    return;
                }
                if (closing) {
                    return;
                }
                if (fds.get(ValueLayout.JAVA_SHORT, Libc.POLLFD_REVENTS) == 0) {
                    continue;
                }
                long n = Libc.read(fd, ports, ports.byteSize());
                if (n < 0) {
                    int errno = Libc.errno();
                    if (errno == Libc.EINTR || errno == Libc.EAGAIN) {
                        continue;
                    }
                    if (errno == Libc.EFBIG) {
                        recoverFromOverflow();
                        continue;
                    }
                    LOG.error("read of pending ports from {} failed: {}; no more event-channel notifications", path,
                            Libc.describe(errno));
                    return;
                }
                if (n == 0) {
                    LOG.error("{} reported end of file; no more event-channel notifications", path);
                    return;
                }
                int count = (int) (n / EvtchnAbi.PORT_BYTES);
                ready.clear();
                synchronized (channels) {
                    for (int i = 0; i < count; i++) {
                        Channel c = channels.get(ports.getAtIndex(ValueLayout.JAVA_INT, i));
                        if (c != null && !ready.contains(c)) {
                            ready.add(c); // a port listed twice is still one event
                        }
                    }
                }
                // Write every read port back: that unmasks it (the driver ignores ports no longer bound).
                if (Libc.write(fd, ports, (long) count * EvtchnAbi.PORT_BYTES) < 0) {
                    LOG.warn("unmasking {} ports on {} failed: {}", count, path, Libc.describe(Libc.errno()));
                }
                for (Channel c : ready) {
                    c.dispatch();
                }
            }
        }
    }

    /**
     * The driver's pending-port buffer overflowed, so notifications were lost: clear it with
     * IOCTL_EVTCHN_RESET and run every channel once (a spurious event costs a ring check; a lost one hangs it).
     */
    private void recoverFromOverflow() {
        LOG.warn("{}: pending-port buffer overflowed; resetting and waking every channel", path);
        int r = device.ioctl(EvtchnAbi.IOCTL_EVTCHN_RESET, MemorySegment.NULL);
        if (r < 0) {
            LOG.error("IOCTL_EVTCHN_RESET on {} failed: {}", path, DeviceFd.describe(r));
        }
        List<Channel> all;
        synchronized (channels) {
            all = new ArrayList<>(channels.values());
        }
        all.forEach(Channel::dispatch);
    }

    @Override
    public void close() {
        if (closing) {
            return;
        }
        closing = true;
        try (Arena call = Arena.ofConfined()) {
            MemorySegment one = call.allocate(ValueLayout.JAVA_LONG);
            one.set(ValueLayout.JAVA_LONG, 0, 1L);
            Libc.write(wakeFd, one, 8);
        }
        try {
            reader.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<Channel> left;
        synchronized (channels) {
            left = new ArrayList<>(channels.values());
        }
        left.forEach(Channel::close);
        Libc.close(wakeFd);
        device.close();
    }

    boolean readerAlive() {
        return reader.isAlive();
    }

    private final class Channel implements EventChannel {
        private final int port;
        private final Runnable onEvent;
        private volatile boolean closed;

        Channel(int port, Runnable onEvent) {
            this.port = port;
            this.onEvent = onEvent;
        }

        @Override
        public int localPort() {
            return port;
        }

        @Override
        public void notifyRemote() throws HypervisorException {
            if (closed) {
                throw new HypervisorException("event channel port " + port + " is unbound");
            }
            portIoctl(EvtchnAbi.IOCTL_EVTCHN_NOTIFY, EvtchnAbi.NOTIFY_PORT, port, "IOCTL_EVTCHN_NOTIFY");
        }

        void dispatch() {
            if (closed) {
                return;
            }
            try {
                onEvent.run();
            } catch (RuntimeException e) {
                LOG.error("event-channel port {} handler failed", port, e);
            }
        }

        @Override
        public void close() {
            synchronized (channels) {
                if (closed) {
                    return;
                }
                closed = true;
                channels.remove(port);
            }
            try {
                portIoctl(EvtchnAbi.IOCTL_EVTCHN_UNBIND, EvtchnAbi.UNBIND_PORT, port, "IOCTL_EVTCHN_UNBIND");
            } catch (HypervisorException e) {
                LOG.warn("{}", e.getMessage());
            }
        }
    }
}
