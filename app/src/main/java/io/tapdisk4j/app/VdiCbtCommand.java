package io.tapdisk4j.app;

import io.tapdisk4j.block.BlockDevice;
import io.tapdisk4j.block.BlockDevices;
import io.tapdisk4j.block.DeviceUri;
import io.tapdisk4j.block.OpenOptions;
import io.tapdisk4j.block.cbt.CbtBitmaps;
import io.tapdisk4j.block.cbt.CbtLog;
import io.tapdisk4j.block.cbt.CbtLogs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.BitSet;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code vdi cbt …}: changed-block tracking, as XAPI's VDI.enable_cbt / disable_cbt / list_changed_blocks. */
@Command(name = "cbt", description = "Changed-block tracking: a log of changed 64 KiB blocks beside the image (NAME.cbtlog).",
        mixinStandardHelpOptions = true,
        subcommands = {VdiCbtCommand.Enable.class, VdiCbtCommand.Disable.class, VdiCbtCommand.Status.class,
                VdiCbtCommand.Changed.class})
final class VdiCbtCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "enable", description = "Start tracking: every write through tapdisk4j marks its blocks from now on "
            + "(takes effect when the image is next opened for writing).")
    static final class Enable implements Callable<Integer> {
        @Parameters(paramLabel = "URI") String uri;

        @Override
        public Integer call() throws Exception {
            boolean created = uriCall(uri);
            System.out.println((created ? "tracking changed blocks of " : "already tracking ") + uri + " in "
                    + CbtLogs.location(DeviceUri.parse(uri)));
            return 0;
        }

        /** Enables tracking of {@code uri}; false when it was on already. */
        boolean uriCall(String image) throws java.io.IOException {
            long size;
            try (BlockDevice d = BlockDevices.loadDefault().open(image, OpenOptions.readOnlyOptions())) {
                size = d.size();
            }
            return CbtLogs.enable(DeviceUri.parse(image), size);
        }
    }

    @Command(name = "disable", description = "Stop tracking: delete the image's log (the next backup is a full one).")
    static final class Disable implements Callable<Integer> {
        @Parameters(paramLabel = "URI") String uri;

        @Override
        public Integer call() throws Exception {
            boolean had = CbtLogs.disable(DeviceUri.parse(uri));
            System.out.println(had ? "stopped tracking " + uri : uri + " was not tracked");
            return 0;
        }
    }

    @Command(name = "status", description = "Whether the image is tracked, whether its log is consistent, and how much changed.")
    static final class Status implements Callable<Integer> {
        @Parameters(paramLabel = "URI") String uri;
        @Option(names = "--json", description = "One JSON object.") boolean json;

        @Override
        public Integer call() throws Exception {
            DeviceUri u = DeviceUri.parse(uri);
            CbtLog log = CbtLogs.status(u);
            if (log == null) {
                System.out.println(json ? "{\"uri\":\"" + esc(uri) + "\",\"enabled\":false}" : uri + ": tracking off");
                return 0;
            }
            int changed = log.bits().cardinality();
            if (json) {
                System.out.printf(Locale.ROOT, "{\"uri\":\"%s\",\"enabled\":true,\"log\":\"%s\",\"consistent\":%b,"
                                + "\"size\":%d,\"blockSize\":%d,\"changedBlocks\":%d,\"parent\":\"%s\",\"id\":\"%s\"}%n",
                        esc(uri), esc(String.valueOf(CbtLogs.location(u))), log.consistent(), log.size(), CbtLog.BLOCK_SIZE,
                        changed, log.parent(), log.child());
            } else {
                System.out.printf(Locale.ROOT, "%s: tracking on%nlog:        %s%nconsistent: %s%nchanged:    %d of %d blocks of 64 KiB%n",
                        uri, CbtLogs.location(u), log.consistent() ? "yes"
                                : "no (not closed cleanly: the next backup must be a full one)",
                        changed, CbtLog.blocks(log.size()));
            }
            return 0;
        }
    }

    @Command(name = "changed", description = "Blocks changed between snapshot BASE and NEW (a later snapshot of the same chain, "
            + "or the VDI itself): XAPI's base64 bitmap, one bit per 64 KiB block; exit status 2 when the logs "
            + "cannot tell (a full backup is needed).")
    static final class Changed implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "BASE") String base;
        @Parameters(index = "1", paramLabel = "NEW") String newer;
        @Option(names = "--json", description = "Changed extents as JSON: [{\"offset\":…,\"length\":…}, …].") boolean json;

        @Override
        public Integer call() throws Exception {
            BitSet bits;
            long size;
            try {
                bits = new VdiBackup().changed(base, newer);
                try (BlockDevice d = BlockDevices.loadDefault().open(newer, OpenOptions.readOnlyOptions())) {
                    size = d.size();
                }
            } catch (io.tapdisk4j.block.BlockDeviceException e) {
                System.err.println("error: " + e.getMessage());
                return 2;
            }
            if (json) {
                List<long[]> ext = CbtBitmaps.extents(bits, size);
                System.out.println("[" + ext.stream().map(e -> "{\"offset\":" + e[0] + ",\"length\":" + e[1] + "}")
                        .collect(Collectors.joining(",")) + "]");
            } else {
                System.out.println(Base64.getEncoder().encodeToString(CbtLog.bitmapBytes(bits, size)));
            }
            return 0;
        }
    }

    static String esc(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }
}
