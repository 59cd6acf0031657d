package io.tapdisk4j.app;

import io.tapdisk4j.nfs.device.NfsDirectory;
import io.tapdisk4j.rbd.RbdPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code sr}: storage repository operations; {@code sr ls} lists the VDIs of an NFS SR directory, the images of
 * an RBD pool, or the targets and LUNs of an iSCSI portal (as iscsi-ls does).
 */
@Command(name = "sr", description = "Storage repository operations.", subcommands = SrCommand.Ls.class)
final class SrCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "ls", description = "List the image files of an NFS directory with size and format "
            + "(sr ls nfs://server/export/sr-uuid), the images of an RBD pool with size and used space "
            + "(sr ls rbd://POOL?conf=/etc/ceph/ceph.conf), or the targets and LUNs of an iSCSI portal (sr ls iscsi://portal).")
    static final class Ls implements Callable<Integer> {

        @Parameters(paramLabel = "URI", description = "nfs://server[:port]/export/dir[?uid=…&gid=…&nfsport=…&mountport=…], "
                + "rbd://[ID@]POOL[/NAMESPACE][?conf=…&keyring=…] or iscsi://[user%%password@]host[:port]")
        String uri;

        @Override
        public Integer call() throws Exception {
            if (uri.regionMatches(true, 0, "rbd:", 0, 4)) {
                return listPool();
            }
            if (uri.regionMatches(true, 0, "iscsi:", 0, 6)) {
                return IscsiPortalListing.print(uri, System.out);
            }
            if (!uri.regionMatches(true, 0, "nfs:", 0, 4)) {
                throw new IllegalArgumentException("sr ls lists nfs:// directories, rbd:// pools and iscsi:// portals; '"
                        + io.tapdisk4j.block.DeviceUri.redact(uri) + "' is neither");
            }
            // Writer lock files (NAME.lock, held while an image is open for writing) are not images.
            List<NfsDirectory.Vdi> vdis = NfsDirectory.list(uri).stream()
                    .filter(v -> !v.name().endsWith(".lock")).toList();
            int width = 4;
            for (NfsDirectory.Vdi v : vdis) {
                width = Math.max(width, v.name().length());
            }
            System.out.printf(Locale.ROOT, "%-" + width + "s  %15s  %s%n", "NAME", "SIZE", "FORMAT");
            for (NfsDirectory.Vdi v : vdis) {
                System.out.printf(Locale.ROOT, "%-" + width + "s  %15d  %s%n", v.name(), v.size(), v.format());
            }
            return 0;
        }

        private int listPool() throws Exception {
            List<RbdPool.Image> images = RbdPool.list(uri);
            int width = 4;
            for (RbdPool.Image i : images) {
                width = Math.max(width, i.name().length());
            }
            System.out.printf(Locale.ROOT, "%-" + width + "s  %15s  %15s%n", "NAME", "SIZE", "USED");
            for (RbdPool.Image i : images) {
                System.out.printf(Locale.ROOT, "%-" + width + "s  %15d  %15d%n", i.name(), i.size(), i.used());
            }
            return 0;
        }
    }
}
