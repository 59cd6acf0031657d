package io.tapdisk4j.app.daemon;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.nbd.server.NbdExport;
import io.tapdisk4j.nbd.server.NbdServer;
import io.tapdisk4j.ring.xenbus.Tapback;
import io.tapdisk4j.ring.xenbus.VbdId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * NBD exports of attached devices ({@code ctl export DOM/DEV PORT}), so dom0 tools can copy or back up a
 * disk a guest is using. Read-only unless asked (a backup must not race the guest); on loopback only;
 * the export sees the guest's writes because it shares the VBD's device.
 */
final class DeviceExports implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DeviceExports.class);

    private final Tapback tapback;
    private final Map<VbdId, NbdServer> servers = new ConcurrentHashMap<>();

    DeviceExports(Tapback tapback) {
        this.tapback = tapback;
    }

    /** Starts exporting {@code id} on 127.0.0.1:{@code port} (0: any free port); returns its NBD URI. */
    synchronized String export(VbdId id, int port, boolean writable) throws IOException {
        return export(id, port, null, writable);
    }

    /**
     * Starts exporting {@code id} on the Unix socket {@code socket} (for dom0's kernel client,
     * {@code nbd-client -unix}, as tapdisk3 gives dom0 a block device); returns its nbd+unix URI.
     */
    synchronized String exportUnix(VbdId id, java.nio.file.Path socket, boolean writable) throws IOException {
        return export(id, 0, socket, writable);
    }

    private String export(VbdId id, int port, java.nio.file.Path socket, boolean writable) throws IOException {
        if (servers.containsKey(id)) {
            throw new IllegalArgumentException(id + " is already exported at " + uri(id, servers.get(id)));
        }
        BlockDevice device = tapback.sharedDevice(id, !writable)
                .orElseThrow(() -> new IllegalArgumentException("no open device " + id + " (not attached?)"));
        String name = id.domid() + "-" + id.devid();
        NbdServer.Builder builder = NbdServer.builder()
                .export(new NbdExport(name, "vbd3/" + id.domid() + "/" + id.devid() + (writable ? "" : " (read-only)"),
                        device, !writable));
        NbdServer server = socket != null ? builder.bindUnix(socket) : builder.bindTcp("127.0.0.1", port);
        servers.put(id, server);
        if (socket != null) {
            sockets.put(id, socket);
        }
        String uri = uri(id, server);
        log.info("{}: exported over NBD at {}{}", id, uri, writable ? " (writable)" : " (read-only)");
        return uri;
    }

    synchronized String unexport(VbdId id) {
        NbdServer s = servers.remove(id);
        sockets.remove(id);
        if (s == null) {
            throw new IllegalArgumentException(id + " is not exported");
        }
        s.close();
        log.info("{}: NBD export stopped", id);
        return id + ": export stopped";
    }

    /** Stops the export of a device that went away; its storage is about to close. */
    void deviceRemoved(VbdId id) {
        NbdServer s = servers.remove(id);
        sockets.remove(id);
        if (s != null) {
            s.close();
            log.info("{}: NBD export stopped (device released)", id);
        }
    }

    private final Map<VbdId, java.nio.file.Path> sockets = new ConcurrentHashMap<>();

    private String uri(VbdId id, NbdServer s) {
        java.nio.file.Path socket = sockets.get(id);
        return socket != null ? "nbd+unix:///" + id.domid() + "-" + id.devid() + "?socket=" + socket
                : "nbd://127.0.0.1:" + s.port() + "/" + id.domid() + "-" + id.devid();
    }

    @Override
    public synchronized void close() {
        servers.values().forEach(NbdServer::close);
        servers.clear();
    }
}
