package io.tapdisk4j.app;

import io.tapdisk4j.nfs.device.NfsDirectory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code sr}: storage repository operations; {@code sr ls} lists the VDIs of an NFS SR directory. */
@Command(name = "sr", description = "Storage repository operations.", subcommands = SrCommand.Ls.class)
final class SrCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "ls", description = "List the image files of a directory with size and format, "
            + "for example: sr ls nfs://server/export/sr-uuid")
    static final class Ls implements Callable<Integer> {

        @Parameters(paramLabel = "URI", description = "nfs://server[:port]/export/dir[?uid=…&gid=…&nfsport=…&mountport=…]")
        String uri;

        @Override
        public Integer call() throws Exception {
            if (!uri.regionMatches(true, 0, "nfs:", 0, 4)) {
                throw new IllegalArgumentException("sr ls lists nfs:// directories; '" + uri + "' is not one");
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
    }
}
