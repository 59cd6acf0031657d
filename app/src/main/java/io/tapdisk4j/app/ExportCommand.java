package io.tapdisk4j.app;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.iscsi.target.IscsiTarget;
import io.tapdisk4j.iscsi.target.IscsiTargetConfig;
import io.tapdisk4j.nbd.server.NbdServer;
import io.tapdisk4j.nbd.server.NbdStandaloneExport;
import io.tapdisk4j.nbd.server.NbdTlsMode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** Serves one device over NBD (like qemu-nbd) or iSCSI (one target, the device as LUN 0) until stopped. */
@Command(name = "export", description = "Export a device (any URI) over NBD or iSCSI until stopped (Ctrl-C / SIGTERM).")
final class ExportCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "URI", description = "Device to export, e.g. file:///srv/disk.raw, memory:?size=1G, nbd://host/export.")
    String uri;

    @Option(names = "--protocol", paramLabel = "nbd|iscsi", description = "Protocol (default nbd).", defaultValue = "nbd")
    String protocol;

    @Option(names = "--port", description = "TCP port (default 10809 for NBD, 3260 for iSCSI; 0 picks a free one).")
    Integer port;

    @Option(names = "--iqn", description = "iSCSI: target name (default: derived from the export name or URI).")
    String iqn;

    @Option(names = "--chap", paramLabel = "USER:SECRET", description = "iSCSI: initiators must log in with CHAP as USER.")
    String chap;

    @Option(names = "--mutual-chap", paramLabel = "USER:SECRET", description = "iSCSI: the target answers mutual CHAP as USER.")
    String mutualChap;

    @Option(names = "--bind", description = "Address to listen on (default 127.0.0.1).", defaultValue = "127.0.0.1")
    String bind;

    @Option(names = "--socket", paramLabel = "PATH", description = "Listen on this Unix socket instead of TCP.")
    Path socket;

    @Option(names = "--name", description = "Export name (default: the empty name clients get by default).", defaultValue = "")
    String name;

    @Option(names = "--description", description = "Export description shown to clients.")
    String description;

    @Option(names = "--read-only", description = "Refuse writes (EPERM).")
    boolean readOnly;

    @Option(names = "--tls", paramLabel = "off|on|require", description = "TLS: off, on (offered), require (nothing but STARTTLS before TLS).", defaultValue = "off")
    String tls;

    @Option(names = "--tls-certs", paramLabel = "DIR", description = "X.509 directory: ca-cert.pem, server-cert.pem, server-key.pem.")
    Path tlsCerts;

    @Option(names = "--tls-verify-peer", description = "With --tls-certs: clients must present a certificate signed by ca-cert.pem.")
    boolean verifyPeer;

    @Option(names = "--tls-psk", paramLabel = "FILE", description = "TLS-PSK keys, lines of user:hexkey.")
    Path tlsPsk;

    @Option(names = "--dirty-since", paramLabel = "BASE", description = "Offer the blocks changed between snapshot BASE and URI "
            + "(a later snapshot of the same chain) as the meta context qemu:dirty-bitmap:cbt; implies --read-only.")
    String dirtySince;

    @Override
    public Integer call() throws Exception {
        if (protocol.equals("iscsi")) {
            return iscsi();
        }
        if (!protocol.equals("nbd")) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "--protocol must be nbd or iscsi, not " + protocol);
        }
        int port = this.port == null ? 10809 : this.port;
        if (dirtySince != null) {
            readOnly = true; // the bitmap describes the snapshot as it is
        }
        NbdStandaloneExport export = new NbdStandaloneExport(bind, port, socket, name, description, readOnly,
                NbdTlsMode.parse(tls), tlsCerts, verifyPeer, tlsPsk);
        BlockDevice device = CbtExports.withBitmap(BlockDevices.loadDefault().open(uri, OpenOptions.DEFAULT.withReadOnly(readOnly)),
                uri, dirtySince);
        CountDownLatch stopped = new CountDownLatch(1);
        try (NbdServer server = export.start(device)) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                server.close();
                device.close();
                stopped.countDown();
            }, "export-shutdown"));
            System.out.println("exporting " + device.describe() + " as '" + name + "' on "
                    + (socket != null ? "unix:" + socket : server.localAddress()) + (readOnly ? " (read-only)" : ""));
            stopped.await();
        }
        return 0;
    }

    private int iscsi() throws Exception {
        IscsiTargetConfig config = IscsiTargetConfig.of(iqn != null ? iqn
                : IscsiTargetConfig.defaultName(name.isEmpty() ? uri : name)).withReadOnly(readOnly);
        if (chap != null) {
            String[] c = IscsiTargetConfig.splitCredentials(chap);
            config = config.withChap(c[0], c[1]);
        }
        if (mutualChap != null) {
            String[] c = IscsiTargetConfig.splitCredentials(mutualChap);
            config = config.withMutualChap(c[0], c[1]);
        }
        BlockDevice device = BlockDevices.loadDefault().open(uri, OpenOptions.DEFAULT.withReadOnly(readOnly));
        CountDownLatch stopped = new CountDownLatch(1);
        try (IscsiTarget target = IscsiTarget.start(device, config, bind, port == null ? IscsiTargetConfig.DEFAULT_PORT : port)) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                target.close();
                device.close();
                stopped.countDown();
            }, "export-shutdown"));
            System.out.println("exporting " + device.describe() + " as iSCSI target " + target.targetName() + " LUN 0 on "
                    + target.localAddress() + (readOnly ? " (read-only)" : ""));
            stopped.await();
        }
        return 0;
    }
}
