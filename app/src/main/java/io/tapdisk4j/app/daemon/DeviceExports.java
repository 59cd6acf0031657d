package io.tapdisk4j.app.daemon;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.iscsi.target.IscsiTarget;
import io.tapdisk4j.iscsi.target.IscsiTargetConfig;
import io.tapdisk4j.nbd.server.NbdExport;
import io.tapdisk4j.nbd.server.NbdServer;
import io.tapdisk4j.ring.xenbus.Tapback;
import io.tapdisk4j.ring.xenbus.VbdId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * NBD or iSCSI exports of attached devices ({@code ctl export DOM/DEV PORT|unix:SOCKET [rw] [--protocol iscsi]}),
 * so dom0 tools can copy or back up a disk a guest is using, and dom0's kernel NBD client can give dom0 a block
 * device (as tapdisk3 does). Read-only unless asked (a backup must not race the guest); on loopback or a Unix
 * socket only; the export sees the guest's writes because it shares the VBD's device.
 */
final class DeviceExports implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DeviceExports.class);

    private final Tapback tapback;

    /** A running export: its URI and the server to close. */
    private record Export(String uri, AutoCloseable server) {
        void close() {
            try {
                server.close();
            } catch (Exception e) {
                log.warn("closing the export at {}: {}", uri, e.toString());
            }
        }
    }

    private final Map<VbdId, Export> servers = new ConcurrentHashMap<>();

    DeviceExports(Tapback tapback) {
        this.tapback = tapback;
    }

    /** Starts exporting {@code id} on 127.0.0.1:{@code port} (0: any free port); returns its NBD URI. */
    synchronized String export(VbdId id, int port, boolean writable) throws IOException {
        return export(id, port, writable, "nbd");
    }

    /** As {@link #export(VbdId, int, boolean)} over {@code protocol} (nbd or iscsi); returns the URI. */
    synchronized String export(VbdId id, int port, boolean writable, String protocol) throws IOException {
        if (!protocol.equals("nbd") && !protocol.equals("iscsi")) {
            throw new IllegalArgumentException("protocol must be nbd or iscsi, not " + protocol);
        }
        return protocol.equals("iscsi") ? exportIscsi(id, port, writable) : exportNbd(id, port, null, writable);
    }

    /**
     * Starts exporting {@code id} over NBD on the Unix socket {@code socket} (for dom0's kernel client,
     * {@code nbd-client -unix}); returns its nbd+unix URI.
     */
    synchronized String exportUnix(VbdId id, Path socket, boolean writable) throws IOException {
        return exportNbd(id, 0, socket, writable);
    }

    private String exportIscsi(VbdId id, int port, boolean writable) throws IOException {
        BlockDevice device = sharedDevice(id, writable);
        IscsiTargetConfig config = IscsiTargetConfig.of(IscsiTargetConfig.defaultName("vbd3-" + name(id)))
                .withReadOnly(!writable);
        IscsiTarget target = IscsiTarget.start(device, config, "127.0.0.1", port);
        String uri = "iscsi://127.0.0.1:" + target.port() + "/" + target.targetName() + "/0";
        servers.put(id, new Export(uri, target));
        log.info("{}: exported over iSCSI at {}{}", id, uri, writable ? " (writable)" : " (read-only)");
        return uri;
    }

    private String exportNbd(VbdId id, int port, Path socket, boolean writable) throws IOException {
        BlockDevice device = sharedDevice(id, writable);
        NbdServer.Builder builder = NbdServer.builder()
                .export(new NbdExport(name(id), "vbd3/" + id.domid() + "/" + id.devid() + (writable ? "" : " (read-only)"),
                        device, !writable));
        NbdServer server = socket != null ? builder.bindUnix(socket) : builder.bindTcp("127.0.0.1", port);
        String uri = socket != null ? "nbd+unix:///" + name(id) + "?socket=" + socket
                : "nbd://127.0.0.1:" + server.port() + "/" + name(id);
        servers.put(id, new Export(uri, server));
        log.info("{}: exported over NBD at {}{}", id, uri, writable ? " (writable)" : " (read-only)");
        return uri;
    }

    private BlockDevice sharedDevice(VbdId id, boolean writable) {
        if (servers.containsKey(id)) {
            throw new IllegalArgumentException(id + " is already exported at " + servers.get(id).uri());
        }
        return tapback.sharedDevice(id, !writable)
                .orElseThrow(() -> new IllegalArgumentException("no open device " + id + " (not attached?)"));
    }

    private static String name(VbdId id) {
        return id.domid() + "-" + id.devid();
    }

    synchronized String unexport(VbdId id) {
        Export s = servers.remove(id);
        if (s == null) {
            throw new IllegalArgumentException(id + " is not exported");
        }
        s.close();
        log.info("{}: export stopped", id);
        return id + ": export stopped";
    }

    /** Stops the export of a device that went away; its storage is about to close. */
    void deviceRemoved(VbdId id) {
        Export s = servers.remove(id);
        if (s != null) {
            s.close();
            log.info("{}: export stopped (device released)", id);
        }
    }

    @Override
    public synchronized void close() {
        servers.values().forEach(Export::close);
        servers.clear();
    }
}
